//! Where one usage run's files go: a fresh `usage/<start>_<end>/`, filled
//! under a hidden staging name and renamed into place whole, then
//! `usage/latest` switched to it. Readers (the dashboard, reports, tests)
//! follow `latest`, so a run with another period never leaves its months next
//! to an earlier run's, and an interrupted run leaves the previous archive in
//! use.

use super::usage_archive::UsageError;
use super::usage_period::CheckedPeriod;
use crate::storage::private_fs;
use chrono::{NaiveDateTime, Timelike};
use std::path::{Path, PathBuf};

/// The link in the usage root that names the archive in use.
pub const LATEST: &str = "latest";

/// `<usage root>/latest`: the archive a reader should open.
pub fn latest(root: &Path) -> PathBuf {
    root.join(LATEST)
}

pub struct ArchiveDir {
    root: PathBuf,
    /// `2025-01-01_2025-07-01`, with `T%H%M%S` on a bound that is not midnight.
    name: String,
    staging: PathBuf,
    /// `<usage root>/.lock`, held (flock) from `begin` until dropped: a second
    /// run on the same project would empty this run's staging directory.
    lock: Option<std::fs::File>,
}

fn bound(t: &NaiveDateTime) -> String {
    if t.num_seconds_from_midnight() == 0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H%M%S").to_string()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> UsageError + '_ {
    move |source| UsageError::Write {
        path: path.to_path_buf(),
        source,
    }
}

impl ArchiveDir {
    pub fn new(root: &Path, period: &CheckedPeriod) -> Self {
        let name = format!("{}_{}", bound(&period.start), bound(&period.end));
        Self {
            root: root.to_path_buf(),
            staging: root.join(format!(".staging-{name}")),
            name,
            lock: None,
        }
    }

    /// Locks the usage root against other runs, then returns an empty staging
    /// directory (a crashed run's leftovers removed).
    pub fn begin(&mut self) -> Result<PathBuf, UsageError> {
        private_fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        let path = self.root.join(".lock");
        match private_fs::open_locked(&path).map_err(io(&path))? {
            Some(file) => self.lock = Some(file),
            None => return Err(UsageError::Busy { path }),
        }
        // Every crashed run's, whatever its period: one whose end was clipped
        // to "now" is named after a second no later run shares.
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let path = entry.map_err(io(&self.root))?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".staging-"))
            {
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
            }
        }
        // A crash inside `publish`: between its two renames the earlier archive
        // is only aside (it goes back); after them the aside is left over.
        let (done, aside) = (
            self.root.join(&self.name),
            self.root.join(format!(".replaced-{}", self.name)),
        );
        match (done.exists(), aside.exists()) {
            (false, true) => std::fs::rename(&aside, &done).map_err(io(&aside))?,
            (true, true) => std::fs::remove_dir_all(&aside).map_err(io(&aside))?,
            _ => {}
        }
        private_fs::create_dir_all(&self.staging).map_err(io(&self.staging))?;
        Ok(self.staging.clone())
    }

    /// Renames the staging directory to its final name and points `latest`
    /// at it. Returns the final path, and a note when an earlier run of the
    /// same period was kept: one whose totals are larger in any measure
    /// (the old cloud purged deleted servers' rows since, say) is never
    /// replaced by a thinner one, but moved to `<name>.replaced-<UTC time>`.
    pub fn publish(&self) -> Result<(PathBuf, Option<String>), UsageError> {
        let done = self.root.join(&self.name);
        let mut note = None;
        let mut aside = None;
        if done.exists() {
            let (old, new) = (done.join("total.json"), self.staging.join("total.json"));
            let thinner = match (read_usage(&old), read_usage(&new)) {
                (Ok(o), Ok(n)) => o.iter().zip(n).any(|(o, n)| n < *o && !close(*o, n)),
                // An earlier archive that cannot be read is kept, not judged.
                _ => true,
            };
            let to = if thinner {
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
                let kept = self.root.join(format!("{}.replaced-{stamp}", self.name));
                note = Some(format!(
                    "the earlier usage archive of this period has larger totals than this run's (or cannot be read), so it is kept as {}; this run's is {}",
                    kept.display(),
                    done.display()
                ));
                kept
            } else {
                self.root.join(format!(".replaced-{}", self.name))
            };
            if to.exists() {
                std::fs::remove_dir_all(&to).map_err(io(&to))?;
            }
            std::fs::rename(&done, &to).map_err(io(&done))?;
            aside = Some((to, thinner));
        }
        if let Err(e) = std::fs::rename(&self.staging, &done) {
            // `latest` keeps naming a whole archive: the earlier one goes back.
            if let Some((to, _)) = &aside {
                let _ = std::fs::rename(to, &done);
            }
            return Err(io(&done)(e));
        }
        // The new archive in place on disk before the earlier one is deleted.
        private_fs::sync_dir(&self.root).map_err(io(&self.root))?;
        if let Some((to, false)) = &aside {
            std::fs::remove_dir_all(to).map_err(io(to))?;
        }
        // A new link renamed over the old one: `latest` always names a whole archive.
        let link = latest(&self.root);
        let tmp = self.root.join(".latest.tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&self.name, &tmp).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &link).map_err(io(&link))?;
        private_fs::sync_dir(&self.root).map_err(io(&self.root))?;
        Ok((done, note))
    }
}

fn read_usage(path: &Path) -> Result<[f64; 4], UsageError> {
    let bad = |message: String| UsageError::Read {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let u = &v["tenant_usage"];
    let f = |k: &str| u[k].as_f64().unwrap_or(0.0);
    Ok([
        f("total_hours"),
        f("total_vcpus_usage"),
        f("total_memory_mb_usage"),
        f("total_local_gb_usage"),
    ])
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

fn is_month_file(name: &str) -> bool {
    let b = name.as_bytes();
    name.len() == "YYYY-MM.json".len()
        && name.ends_with(".json")
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..7]).all(u8::is_ascii_digit)
}

/// Whether the `YYYY-MM.json` files in `dir` add up to its `total.json`, read
/// back from disk: what an auditor opening the folder will check.
pub fn sums_match_on_disk(dir: &Path) -> Result<bool, UsageError> {
    let total = read_usage(&dir.join("total.json"))?;
    let mut sum = [0.0; 4];
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if entry.file_name().to_str().is_some_and(is_month_file) {
            let month = read_usage(&entry.path())?;
            sum.iter_mut().zip(month).for_each(|(s, m)| *s += m);
        }
    }
    Ok(sum.iter().zip(total).all(|(s, t)| close(*s, t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_files_only() {
        assert!(is_month_file("2025-01.json"));
        for n in [
            "total.json",
            "global.json",
            "2025-01.tmp",
            "monthly.csv",
            "20a5-01.json",
        ] {
            assert!(!is_month_file(n), "{n}");
        }
    }

    #[test]
    fn names_carry_the_time_only_when_not_midnight() {
        let t = |s| crate::config::naive_time::parse(s).expect("time");
        let p = CheckedPeriod {
            start: t("2025-01-01"),
            end: t("2026-12-01T03:55:12"),
            note: None,
        };
        assert_eq!(
            ArchiveDir::new(Path::new("/u"), &p).name,
            "2025-01-01_2026-12-01T035512"
        );
    }

    #[test]
    fn a_stale_month_on_disk_breaks_the_sum() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = |n: &str, h: f64| {
            let v = serde_json::json!({"tenant_usage": {"total_hours": h}});
            std::fs::write(dir.path().join(n), v.to_string()).expect("write");
        };
        w("total.json", 3.0);
        w("2025-01.json", 1.0);
        w("2025-02.json", 2.0);
        assert!(sums_match_on_disk(dir.path()).expect("check"));
        w("2024-12.json", 5.0);
        assert!(!sums_match_on_disk(dir.path()).expect("check"));
    }

    #[test]
    fn a_second_run_on_the_same_root_is_refused_and_leaves_the_first_runs_staging() {
        let dir = tempfile::tempdir().expect("tmp");
        let t = |s| crate::config::naive_time::parse(s).expect("time");
        let p = CheckedPeriod {
            start: t("2025-01-01"),
            end: t("2025-07-01"),
            note: None,
        };
        let mut first = ArchiveDir::new(dir.path(), &p);
        let staging = first.begin().expect("first");
        std::fs::write(staging.join("total.json"), "{}").expect("write");
        let e = ArchiveDir::new(dir.path(), &p).begin().expect_err("second");
        assert!(e.to_string().contains("another stackmigrate"), "{e}");
        assert!(
            staging.join("total.json").exists(),
            "the second run emptied the first's staging"
        );
        let (done, note) = first.publish().expect("publish");
        assert_eq!(note, None);
        assert!(done.join("total.json").exists());
        drop(first);
        ArchiveDir::new(dir.path(), &p)
            .begin()
            .expect("free once the first is gone");
    }

    /// A crashed run's staging, named after an end clipped to its "now",
    /// goes with the next run of any period: it holds every tenant's usage.
    #[test]
    fn a_crashed_runs_staging_of_another_period_is_removed() {
        let dir = tempfile::tempdir().expect("tmp");
        let t = |s| crate::config::naive_time::parse(s).expect("time");
        let period = |end| CheckedPeriod {
            start: t("2025-01-01"),
            end: t(end),
            note: None,
        };
        let mut crashed = ArchiveDir::new(dir.path(), &period("2026-12-06T08:00:01"));
        let left = crashed.begin().expect("crashed run");
        std::fs::write(left.join("global.json"), "{}").expect("write");
        drop(crashed);
        let mut next = ArchiveDir::new(dir.path(), &period("2026-12-06T08:00:02"));
        let staging = next.begin().expect("next run");
        assert!(!left.exists(), "the crashed run's staging is left");
        assert!(staging.exists());
    }

    /// A re-run of the same period whose totals are smaller (rows purged in
    /// the old cloud since) keeps the earlier archive beside it; one that is
    /// not smaller replaces it.
    #[test]
    fn a_thinner_rerun_of_the_same_period_keeps_the_earlier_archive() {
        let dir = tempfile::tempdir().expect("tmp");
        let t = |s| crate::config::naive_time::parse(s).expect("time");
        let p = CheckedPeriod {
            start: t("2025-01-01"),
            end: t("2025-07-01"),
            note: None,
        };
        let run = |hours: f64| {
            let mut a = ArchiveDir::new(dir.path(), &p);
            let staging = a.begin().expect("begin");
            let v = serde_json::json!({"tenant_usage": {"total_hours": hours}});
            std::fs::write(staging.join("total.json"), v.to_string()).expect("write");
            a.publish().expect("publish")
        };
        let hours = |d: &Path| read_usage(&d.join("total.json")).expect("read")[0];
        let kept = |d: &Path| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = std::fs::read_dir(d)
                .expect("ls")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.to_string_lossy().contains(".replaced-"))
                .collect();
            v.sort();
            v
        };
        let (done, note) = run(10.0);
        assert_eq!((hours(&done), note), (10.0, None));
        let (done, note) = run(12.0);
        assert_eq!((hours(&done), note), (12.0, None), "a fuller re-run replaces");
        assert!(kept(dir.path()).is_empty());
        let (done, note) = run(5.0);
        assert_eq!(hours(&done), 5.0);
        assert_eq!(hours(&latest(dir.path())), 5.0, "latest names this run");
        let note = note.expect("a note");
        let earlier = kept(dir.path());
        assert_eq!(earlier.len(), 1, "{earlier:?}");
        assert_eq!(hours(&earlier[0]), 12.0, "the fuller archive is kept");
        assert!(note.contains(&earlier[0].display().to_string()), "{note}");
        // A crash between publish's two renames: the fuller archive is only
        // aside. The next run puts it back first, and then keeps it as fuller.
        let done = dir.path().join(&ArchiveDir::new(dir.path(), &p).name);
        std::fs::remove_dir_all(&earlier[0]).expect("rm");
        let aside = dir
            .path()
            .join(format!(".replaced-{}", ArchiveDir::new(dir.path(), &p).name));
        std::fs::rename(&done, &aside).expect("crash: set aside");
        let (_, note) = run(3.0);
        assert!(note.is_some(), "judged against the archive set aside");
        assert!(!aside.exists());
        let earlier = kept(dir.path());
        assert_eq!(earlier.len(), 1, "{earlier:?}");
        assert_eq!(hours(&earlier[0]), 5.0, "the archive set aside is kept, not lost");
    }
}

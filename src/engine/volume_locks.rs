//! One source volume, one stackmigrate at a time on this host, whatever the
//! work dir. The journal's lock covers one work dir; a second run of the same
//! project from another directory (cron from `$HOME`, the dashboard from
//! elsewhere, the relative default `./stackmigrate-work`) has a journal of its
//! own, and both would use the volume's staging image `stackmigrate-<id>` on
//! the new cluster: one could remove the other's, or adopt a half-written one.
//! So a run, and `cleanup`, also hold an `flock` per source volume under the
//! user's state dir (`locks/<old cloud>/<volume id>.lock`), keyed by the old
//! cloud's `auth_url` so that clouds never share a key.

use crate::config::CloudConfig;
use crate::storage::private_fs;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Another run holds a volume, or the lock cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum VolumeLockError {
    #[error("volume {volume}: another stackmigrate on this host is working on it ({holder}); wait for it to finish or stop it, then run again")]
    Busy { volume: String, holder: String },
    #[error("{}: {source}; fix the state directory (XDG_STATE_HOME or HOME), or pass another one", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Held until dropped.
#[derive(Debug, Default)]
pub struct VolumeLocks {
    /// The locked files: a lock lives as long as its open file.
    _held: Vec<File>,
}

impl VolumeLocks {
    /// Locks every volume of `ids` in the old cloud `old`, under the user's
    /// state dir; `holder` (the run's work dir) is written into each for a
    /// refused run to name. No state dir (neither `XDG_STATE_HOME` nor
    /// `HOME`): nothing to lock in, so nothing is locked. A simulated cloud
    /// (the demo) lives in its own directory, and so do its locks.
    pub fn take<'a>(
        old: &CloudConfig,
        ids: impl IntoIterator<Item = &'a str>,
        holder: &Path,
    ) -> Result<Self, VolumeLockError> {
        let dir = match old.files.as_ref().filter(|f| f.in_memory_cloud) {
            Some(files) => Some(files.dir.with_file_name("locks")),
            None => crate::logging::state_dir_of_user().map(|state| state.join("locks")),
        };
        match dir {
            // One cloud, however its URL is spelt (`/v3` or none).
            Some(dir) => Self::take_in(
                &dir,
                &old.keystone_v3_url().unwrap_or_else(|_| old.auth_url.clone()),
                ids,
                holder,
            ),
            None => Ok(Self::default()),
        }
    }

    /// [`Self::take`] under `dir`.
    pub fn take_in<'a>(
        dir: &Path,
        auth_url: &str,
        ids: impl IntoIterator<Item = &'a str>,
        holder: &Path,
    ) -> Result<Self, VolumeLockError> {
        let cloud = blake3::hash(auth_url.trim_end_matches('/').as_bytes()).to_hex();
        let dir = dir.join(&cloud[..16]);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| VolumeLockError::Io { path, source }
        };
        private_fs::create_dir_all(&dir).map_err(io(&dir))?;
        let ids: Vec<&str> = ids.into_iter().collect();
        room_for(ids.len());
        let mut held = Vec::new();
        for id in ids {
            let path = dir.join(format!("{id}.lock"));
            let Some(mut file) = private_fs::open_locked(&path).map_err(io(&path))? else {
                let mut holder = String::new();
                let _ = File::open(&path).and_then(|mut f| f.read_to_string(&mut holder));
                let holder = match holder.trim() {
                    "" => "its work dir unknown".to_string(),
                    h => h.to_string(),
                };
                return Err(VolumeLockError::Busy {
                    volume: id.to_string(),
                    holder,
                });
            };
            let text = format!("pid {}, work dir {}\n", std::process::id(), holder.display());
            file.set_len(0)
                .and_then(|()| file.rewind())
                .and_then(|()| file.write_all(text.as_bytes()))
                .map_err(io(&path))?;
            held.push(file);
        }
        Ok(Self { _held: held })
    }
}

/// A descriptor is held per volume: the soft limit on open files (1024 by
/// default) is raised toward the hard one, so that a project of a thousand
/// volumes still has room for its rbd pipes and connections.
fn room_for(volumes: usize) {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = volumes as u64 + 1024;
    if limit.current.is_some_and(|c| c < want) {
        let current = Some(limit.maximum.map_or(want, |m| m.min(want)));
        let _ = setrlimit(Resource::Nofile, Rlimit { current, ..limit });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_on_a_volume_is_refused_and_told_who_holds_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let url = "http://keystone:5000/v3";
        let first = VolumeLocks::take_in(dir.path(), url, ["a", "b"], Path::new("/srv/cron-work")).expect("first");
        let e = VolumeLocks::take_in(dir.path(), url, ["c", "b"], Path::new("/home/op/work")).expect_err("busy");
        let text = e.to_string();
        assert!(text.contains("volume b") && text.contains("/srv/cron-work"), "{text}");
        // Another volume, or the same id in another cloud: free.
        let other = VolumeLocks::take_in(dir.path(), url, ["c"], Path::new("/x")).expect("another volume");
        let cloud = VolumeLocks::take_in(dir.path(), "http://other:5000/v3", ["b"], Path::new("/x"));
        assert!(cloud.is_ok(), "another cloud");
        drop((first, other));
        VolumeLocks::take_in(dir.path(), url, ["b"], Path::new("/x")).expect("released");
    }

    /// A project of 1100 volumes under the usual soft limit of 1024 open files.
    #[test]
    fn a_thousand_volumes_fit_under_the_usual_open_file_limit() {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let limit = getrlimit(Resource::Nofile);
        let low = Rlimit {
            current: Some(1024),
            ..limit
        };
        setrlimit(Resource::Nofile, low).expect("lower the soft limit");
        let dir = tempfile::tempdir().expect("tmp");
        let ids: Vec<String> = (0..1100).map(|n| format!("v{n}")).collect();
        let locks = VolumeLocks::take_in(
            dir.path(),
            "http://k/v3",
            ids.iter().map(String::as_str),
            Path::new("/w"),
        );
        assert!(locks.is_ok(), "{:?}", locks.err());
    }
}

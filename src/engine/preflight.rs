//! Pre-flight: everything checked before anything is created. Failures are
//! listed together, and the run does not start.

use super::volume_types::volume_type_lines;
use crate::check_line::CheckLine;
use crate::config::{Config, ImportStrategy, TapeConfig};
use crate::openstack::{Cinder, Session, Volume, VolumeQuota};
use crate::storage::{free_bytes, is_writable, BlockStore, RbdError};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

/// A used-bytes measure (`rbd diff --whole-object`) that has not answered after this long is reported as slow.
pub const SLOW_DU: Duration = Duration::from_secs(1);

/// What a slow pre-flight is doing, for the plan screen and the headless output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightProgress {
    /// The measure of volume `index` (from 1) of `total` has not answered within
    /// [`SLOW_DU`]: without fast-diff it reads every object of the image.
    MeasuringUsedSpace { volume: String, index: usize, total: usize },
}

impl std::fmt::Display for PreflightProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PreflightProgress::MeasuringUsedSpace { volume, index, total } => write!(
                f,
                "measuring used space… volume {volume} ({index}/{total}; without fast-diff rbd reads every object)"
            ),
        }
    }
}

/// Why a `{file}` tape template cannot run without an export file.
pub const NO_FILE_TAPE: &str = "tape.command has a {file} argument, and this run keeps no export file (export_dir is null or --no-export-file): use a command that reads the stream on stdin (it gets the rbd export-diff stream; `rbd import-diff - <image>` restores it), or set export_dir";

/// The clusters' `rbd ls` (old, new), started before the clouds are asked:
/// each is a process start and a cluster connection, and nothing in them
/// depends on the clouds' answers. Pre-flight reads them.
pub type ClusterAnswers = [tokio::task::JoinHandle<Result<Vec<String>, RbdError>>; 2];

/// Starts [`ClusterAnswers`] for `cfg`'s clusters (`None` without a block store).
pub fn ask_clusters_early(cfg: &Config) -> Option<ClusterAnswers> {
    let old = BlockStore::for_cloud(&cfg.old_cloud)?;
    let new = BlockStore::for_cloud(&cfg.new_cloud)?;
    Some([old, new].map(|store| tokio::spawn(async move { store.ls().await })))
}

pub struct Preflight<'a> {
    pub new_session: &'a Session,
    /// `manage` needs admin-only Cinder calls: pre-flight proves them.
    pub strategy: ImportStrategy,
    pub old: &'a BlockStore,
    pub new: &'a BlockStore,
    /// `None`: no export file is kept (no staging disk).
    pub export_dir: Option<&'a Path>,
    pub tape: Option<&'a TapeConfig>,
    /// Exports running at once: the export dir must hold the largest this many.
    pub exports_in_flight: usize,
    /// Source volumes whose new volume a journal already records (a resumed
    /// run, a warm sync's later rounds, a cutover): Cinder counts them in
    /// use, so the quota needs nothing more for them.
    pub created: Vec<String>,
    /// The new project's quota, when the caller has read it already.
    pub quota: Option<VolumeQuota>,
    /// `volume_type_map`: the new cloud must have every type it leads to.
    pub type_map: &'a BTreeMap<String, String>,
    /// Stops a running measure (the operator went back, or pressed Ctrl-C).
    pub cancel: &'a CancellationToken,
    pub progress: Option<UnboundedSender<PreflightProgress>>,
    /// The clusters' answers, when they were asked early.
    pub early: Option<ClusterAnswers>,
}

impl Preflight<'_> {
    /// Checks for `to_create`: the volumes that still need a new copy.
    pub async fn run(mut self, to_create: &[Volume]) -> Vec<CheckLine> {
        // Asked at once: each is a round trip or an rbd start.
        let [old_early, new_early] = self.early.take().map_or([None, None], |a| a.map(Some));
        let stores = [("old", self.old, old_early), ("new", self.new, new_early)];
        let clusters = stores.map(|(name, store, early)| async move {
            // An early answer whose task died is asked for again.
            let answered = match early {
                Some(answer) => answer.await.ok(),
                None => None,
            };
            let listed = match answered {
                Some(listed) => listed,
                None => store.ls().await,
            };
            match listed {
                Ok(images) => CheckLine::new(
                    true,
                    format!(
                        "rbd reaches the {name} cluster (pool {}, {} images)",
                        store.pool(),
                        images.len()
                    ),
                ),
                Err(e) => CheckLine::new(false, format!("{name} cluster: {e}")),
            }
        });
        let (mut out, space, clusters) = tokio::join!(
            self.target_checks(to_create),
            self.space(to_create),
            futures_util::future::join_all(clusters)
        );
        out.push(space);
        out.extend(clusters);
        out.push(self.tape_runs());
        out
    }

    /// The target project, its quota, the new volumes' types, and (manage)
    /// whether manage-existing is allowed.
    async fn target_checks(&self, to_create: &[Volume]) -> Vec<CheckLine> {
        let mut out = Vec::new();
        let target = match self.new_session.token().await {
            Ok(t) => match t.project.clone() {
                Some(p) => {
                    out.push(CheckLine::new(
                        true,
                        format!(
                            "target project {} ({}) exists in the new cloud",
                            p.name.as_deref().unwrap_or("?"),
                            p.id
                        ),
                    ));
                    Some(p.id)
                }
                None => {
                    out.push(CheckLine::new(
                        false,
                        "the new cloud's token has no project; set new_cloud.project_name".into(),
                    ));
                    None
                }
            },
            Err(e) => {
                out.push(CheckLine::new(false, e.to_string()));
                None
            }
        };
        if let Some(project) = &target {
            let cinder = Cinder::new(self.new_session);
            let (quota, types) = tokio::join!(self.quota(project, to_create), cinder.volume_types());
            out.push(quota);
            out.extend(volume_type_lines(types, to_create, &self.created, self.type_map));
            if self.strategy == ImportStrategy::Manage {
                out.extend(self.manage_allowed(project).await);
            }
        }
        out
    }

    async fn quota(&self, project: &str, to_create: &[Volume]) -> CheckLine {
        let quota = match self.quota {
            Some(q) => Ok(q),
            None => Cinder::new(self.new_session).quota_usage(project).await,
        };
        match quota {
            Err(e) => CheckLine::new(false, format!("cannot read the new project's quota: {e}")),
            Ok(q) => quota_line(&q, to_create, &self.created),
        }
    }

    /// `manage` calls `GET /scheduler-stats/get_pools` and
    /// `POST /manageable_volumes`, both admin-only by default policy, with the
    /// token scoped to the target project as the run will. Both are proven
    /// here, so a member is refused before anything is exported.
    async fn manage_allowed(&self, project: &str) -> Vec<CheckLine> {
        const ROLE: &str = "the manage strategy needs the admin role (Cinder policy) in the new cloud: \
                            use admin credentials for new_cloud, or --strategy replace (member is enough)";
        let session = self.new_session.rescoped(project);
        let cinder = Cinder::new(&session);
        let rados = self.new.pool();
        let pool = match cinder.pool_for_rados(&rados).await {
            Ok(p) => p,
            Err(e) if e.status() == Some(403) => {
                return vec![CheckLine::new(
                    false,
                    format!("manage: Cinder refuses to list its pools ({e}); {ROLE}"),
                )]
            }
            Err(e) => return vec![CheckLine::new(false, format!("manage: {e}"))],
        };
        let mut out = vec![CheckLine::new(
            true,
            format!("manage: Cinder pool {} stores into RADOS pool {rados}", pool.name),
        )];
        out.push(match cinder.may_manage(&pool.name).await {
            Ok(true) => CheckLine::new(
                true,
                "manage: Cinder policy allows manage-existing for this user".into(),
            ),
            Ok(false) => CheckLine::new(
                false,
                format!("manage: Cinder policy refuses manage-existing (POST /manageable_volumes: 403); {ROLE}"),
            ),
            Err(e) => CheckLine::new(
                false,
                format!("manage: cannot tell whether manage-existing is allowed: {e}"),
            ),
        });
        out
    }

    async fn space(&self, to_create: &[Volume]) -> CheckLine {
        let Some(export_dir) = self.export_dir else {
            // Still measured: the export and the new volume's size take it from here.
            if let Err(line) = self.measure(to_create).await {
                return line;
            }
            return CheckLine::new(
                true,
                "no export file (export_dir is null): each export streams straight into the new cluster".into(),
            );
        };
        if let Err(e) = is_writable(export_dir) {
            return CheckLine::new(
                false,
                format!(
                    "export dir {}: {e}; create it or fix its permissions",
                    export_dir.display()
                ),
            );
        }
        let mut used = match self.measure(to_create).await {
            Ok(used) => used,
            Err(line) => return line,
        };
        used.sort_unstable_by(|a, b| b.cmp(a));
        let n = self.exports_in_flight.max(1);
        let need: u64 = used.iter().take(n).sum::<u64>() + n as u64 * super::worker::EXPORT_MARGIN;
        let free = free_bytes(export_dir).unwrap_or(0);
        let text = format!(
            "export dir {}: {} MiB free, {} MiB needed for the {} largest exports in flight",
            export_dir.display(),
            free >> 20,
            need >> 20,
            self.exports_in_flight
        );
        if free >= need {
            CheckLine::new(true, text)
        } else {
            CheckLine::new(false, format!("{text}; free space or choose another export_dir"))
        }
    }

    /// Each volume's used bytes (`RbdStore::usage`), remembered by the store.
    async fn measure(&self, to_create: &[Volume]) -> Result<Vec<u64>, CheckLine> {
        let mut used = Vec::new();
        for (i, v) in to_create.iter().enumerate() {
            let image = format!("volume-{}", v.id);
            let du = self.old.used_bytes(&image, self.cancel);
            tokio::pin!(du);
            let measured = tokio::select! {
                r = &mut du => r,
                _ = tokio::time::sleep(SLOW_DU) => {
                    // Slow is normal without fast-diff (2 TiB: about 35 s on the testbed): say
                    // what is happening, and keep waiting; there is no limit to cut it off.
                    if let Some(tx) = &self.progress {
                        let _ = tx.send(PreflightProgress::MeasuringUsedSpace {
                            volume: v.display_name().to_string(),
                            index: i + 1,
                            total: to_create.len(),
                        });
                    }
                    du.await
                }
            };
            match measured {
                Ok(u) => used.push(u),
                Err(e) => {
                    let line = format!("volume {} ({}): {e}", v.display_name(), v.id);
                    return Err(CheckLine::new(false, line));
                }
            }
        }
        Ok(used)
    }

    fn tape_runs(&self) -> CheckLine {
        let Some(tape) = self.tape else {
            return CheckLine::new(true, "tape copy disabled (tape is null)".into());
        };
        if self.export_dir.is_none() && crate::storage::needs_file(&tape.command) {
            return CheckLine::new(false, NO_FILE_TAPE.into());
        }
        let program = tape.command.first().map(String::as_str).unwrap_or("");
        let found = if program.contains('/') {
            Path::new(program).is_file()
        } else {
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        };
        if found {
            CheckLine::new(true, format!("tape command {program} is installed"))
        } else {
            CheckLine::new(
                false,
                format!("tape command {program:?} not found; install it or fix tape.command"),
            )
        }
    }
}

/// The quota check: what the volumes still to be created need against what
/// the new project has free.
fn quota_line(q: &VolumeQuota, selected: &[Volume], created: &[String]) -> CheckLine {
    let to_create: Vec<&Volume> = selected.iter().filter(|v| !created.contains(&v.id)).collect();
    let gib: u64 = to_create.iter().map(|v| v.size).sum();
    let count = to_create.len() as i64;
    let vol_ok = q.volumes.free().is_none_or(|f| f >= count);
    let gib_ok = q.gigabytes.free().is_none_or(|f| f >= gib as i64);
    let show = |f: Option<i64>| f.map_or("unlimited".to_string(), |f| f.to_string());
    let exist = match selected.len() - to_create.len() {
        0 => String::new(),
        n => format!(" ({n} already created)"),
    };
    let text = format!(
        "new-cloud quota: {count} volumes / {gib} GiB needed{exist}, {} volumes / {} GiB free",
        show(q.volumes.free()),
        show(q.gigabytes.free())
    );
    if vol_ok && gib_ok {
        CheckLine::new(true, text)
    } else {
        CheckLine::new(false, format!("{text}; raise the quota or select fewer volumes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::QuotaItem;

    fn vol(id: &str, size: u64) -> Volume {
        serde_json::from_value(serde_json::json!({"id": id, "size": size, "status": "available"})).expect("volume")
    }

    #[test]
    fn volumes_already_created_need_no_more_quota() {
        // Two 10 GiB volumes were created by an earlier run and count in use.
        let q = VolumeQuota {
            volumes: QuotaItem {
                limit: 3,
                in_use: 2,
                reserved: 0,
            },
            gigabytes: QuotaItem {
                limit: 25,
                in_use: 20,
                reserved: 0,
            },
        };
        let selected = [vol("a", 10), vol("b", 10)];
        let cutover = quota_line(&q, &selected, &["a".into(), "b".into()]);
        assert!(cutover.ok, "{cutover}");
        assert!(
            cutover
                .to_string()
                .contains("0 volumes / 0 GiB needed (2 already created)"),
            "{cutover}"
        );
        let fresh = quota_line(&q, &selected, &[]);
        assert!(!fresh.ok, "{fresh}");
        assert!(
            fresh
                .to_string()
                .contains("2 volumes / 20 GiB needed, 1 volumes / 5 GiB free"),
            "{fresh}"
        );
    }
}

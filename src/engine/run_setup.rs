//! Starting a run, shared by every client (headless `migrate`, the TUI, the
//! demo): the stores and directories for a project, the inventory archive,
//! pre-flight, then the engine and the usage archive on one event stream.

use super::{
    run_locked, write_inventory, DrivePool, EngineCommand, EngineError, EngineEvent, Journal, JournalError,
    PipelineSettings, Plan, Preflight, PreflightProgress, ProjectListing, Summary, VolumePipeline,
};
use crate::check_line::CheckLine;
use crate::config::{Config, ImportStrategy};
use crate::openstack::{OpenStackError, Project, Session, Volume, VolumeQuota};
use crate::storage::{private_fs, BlockStore};
use crate::usage::{check_period, UsageArchive, UsageError};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why a run could not be set up or started, or why its usage archive
/// failed; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("both clouds need a ceph section (conf, id, keyring, pool) or a files section (dir)")]
    NoBlockStore,
    #[error("{}: {source}", path.display())]
    Dir { path: PathBuf, source: std::io::Error },
    /// Writing `inventory.json`, or the new cloud's token for `manage`.
    #[error(transparent)]
    OpenStack(#[from] OpenStackError),
    #[error("the new cloud's token has no project; set new_cloud.project_name")]
    NoTargetProject,
    /// The configured usage period cannot be archived (e.g. it starts in the future).
    #[error("{0}")]
    UsagePeriod(String),
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// Written, but its months do not add up to the whole-period total.
    #[error("written, but its months do not add up to the whole-period total (did the old cloud purge deleted servers' rows meanwhile?): compare monthly.csv with total.json in {0}, or archive the period again")]
    UsageUnbalanced(String),
    /// The project's journal: another run holds it, or it cannot be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Another run on this host (another work dir) holds a selected volume.
    #[error(transparent)]
    VolumeLock(#[from] super::VolumeLockError),
}

/// How a started run behaves, beside its volumes.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub keep_exports: bool,
    /// Keep running after every volume settled (the TUI).
    pub stay_alive: bool,
    /// Warm sync: modes, rounds per run, cutover.
    pub sync: super::SyncPlan,
    /// Read the whole new image back at cutover.
    pub full_verify: bool,
    /// Volumes to start over: their copies forgotten, copied afresh.
    pub start_over: std::collections::HashSet<String>,
}

pub struct RunSetup {
    pub old: Arc<Session>,
    pub new: Session,
    pub project: Project,
    pub strategy: ImportStrategy,
    /// `<work_dir>/<project id>`.
    pub project_dir: PathBuf,
    /// `<export_dir>/<project id>`; `None`: no export file (no staging disk).
    pub export_dir: Option<PathBuf>,
    pub old_store: BlockStore,
    pub new_store: BlockStore,
    /// For the operator, once: work or export dirs that others can read.
    /// [`RunSetup::start`] sends what is left here as log events.
    pub warnings: Vec<String>,
    /// The new project's volume quota, when already read: pre-flight uses it
    /// instead of asking again.
    pub quota: Option<VolumeQuota>,
    /// The clusters' `rbd ls`, when the caller started them early
    /// ([`super::preflight::ask_clusters_early`]); pre-flight takes them.
    pub early_clusters: std::sync::Mutex<Option<super::preflight::ClusterAnswers>>,
    /// The project's journal once [`RunSetup::lock`] (or `start`) opened it:
    /// while held, no other run on this project starts anything.
    journal: Option<Journal>,
}

/// A started run: events to watch, commands to send, tasks to await.
pub struct Running {
    pub events: mpsc::Receiver<EngineEvent>,
    pub commands: mpsc::Sender<EngineCommand>,
    pub engine: JoinHandle<Result<Summary, EngineError>>,
    /// Phase 4; `Ok(())` also when no usage period is configured.
    pub usage: JoinHandle<Result<(), SetupError>>,
}

impl RunSetup {
    /// Why `volume` cannot be started over, by the journal [`Self::lock`]
    /// opened: only a copy that failed or was aborted, and is not verified or
    /// cut over. (An interrupted one resumes instead: the same command run
    /// again after a crash must not start over the copy it started.)
    pub fn start_over_refusal(&self, volume: &str) -> Option<String> {
        match self.journal.as_ref().map(|j| j.get(volume)) {
            Some(Some(r)) => r.kept_copy().or_else(|| match r.phase {
                super::Phase::Failed | super::Phase::Aborted => None,
                phase => Some(format!(
                    "it has not failed ({phase:?}): run without --start-over to go on with its copy (an interrupted one resumes); start it over only once it failed or was aborted"
                )),
            }),
            Some(None) => Some("this project's journal has no copy of it; nothing to start over".into()),
            None => Some("the project's journal is not open".into()),
        }
    }

    pub fn new(
        cfg: &Config,
        old: Arc<Session>,
        new: Session,
        project: Project,
        strategy: Option<ImportStrategy>,
    ) -> Result<Self, SetupError> {
        let (Some(old_store), Some(new_store)) = (
            BlockStore::for_cloud(&cfg.old_cloud),
            BlockStore::for_cloud(&cfg.new_cloud),
        ) else {
            return Err(SetupError::NoBlockStore);
        };
        let export_dir = cfg.export_dir.as_ref().map(|d| d.join(&project.id));
        let project_dir = cfg.work_dir.join(&project.id);
        let mut dirs = vec![cfg.work_dir.as_path(), project_dir.as_path()];
        dirs.extend(cfg.export_dir.as_deref());
        dirs.extend(export_dir.as_deref());
        let warnings: Vec<String> = private_fs::shared_dirs_warning(&dirs)
            .into_iter()
            .chain(cfg.stall_warning())
            .chain(cfg.tape_warning())
            .collect();
        warnings.iter().for_each(|w| tracing::warn!("{w}"));
        for dir in export_dir.iter().chain([&project_dir]) {
            private_fs::create_dir_all(dir).map_err(|source| SetupError::Dir {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(Self {
            old,
            new,
            strategy: strategy.unwrap_or(cfg.import_strategy),
            project_dir,
            export_dir,
            old_store,
            new_store,
            project,
            warnings,
            quota: None,
            early_clusters: Default::default(),
            journal: None,
        })
    }

    /// Takes the project's lock (its journal) now, before the inventory and
    /// pre-flight: a second run is refused before it writes or asks anything.
    pub fn lock(&mut self) -> Result<(), SetupError> {
        if self.journal.is_none() {
            self.journal = Some(Journal::open(&self.journal_path())?);
        }
        Ok(())
    }

    fn journal_path(&self) -> PathBuf {
        self.project_dir.join("journal.jsonl")
    }

    /// Writes `inventory.json` (the old project as the API returned it).
    pub async fn inventory(&self) -> Result<PathBuf, SetupError> {
        Ok(write_inventory(&self.old, &self.project, &self.project_dir).await?)
    }

    /// Writes `inventory.json` from the listing the plan was drawn from.
    pub fn inventory_from(&self, listing: &ProjectListing) -> Result<PathBuf, SetupError> {
        Ok(super::inventory::write_listing(
            &self.project,
            listing,
            &self.project_dir,
        )?)
    }

    /// The source volumes whose new volume this project's journal records;
    /// none when there is no journal yet (or it cannot be read: the run
    /// itself reports that).
    fn created_by_journal(&self) -> Vec<String> {
        self.journal_records()
            .into_iter()
            .filter(|r| r.new_id.is_some() || !r.created.is_empty())
            .map(|r| r.id)
            .collect()
    }

    /// The volumes whose copy the journal has begun (an export, warm-sync rounds,
    /// a verified copy): a run goes on from what it recorded, not afresh.
    pub fn begun_by_journal(&self) -> Vec<String> {
        self.journal_records()
            .into_iter()
            .filter(|r| r.export.is_some() || r.sync.is_some() || r.is_verified())
            .map(|r| r.id)
            .collect()
    }

    /// The journal's records, read without taking it (none without a readable one).
    fn journal_records(&self) -> Vec<super::VolumeRecord> {
        let path = self.journal_path();
        if !path.exists() {
            return Vec::new();
        }
        super::Journal::read(&path).unwrap_or_default()
    }

    /// `cancel` stops a slow used-bytes measure; `progress` hears about it.
    pub async fn preflight(
        &self,
        cfg: &Config,
        volumes: &[Volume],
        cancel: &CancellationToken,
        progress: Option<UnboundedSender<PreflightProgress>>,
    ) -> Vec<CheckLine> {
        Preflight {
            new_session: &self.new,
            strategy: self.strategy,
            old: &self.old_store,
            new: &self.new_store,
            export_dir: self.export_dir.as_deref(),
            tape: cfg.tape.as_ref(),
            exports_in_flight: cfg.concurrency.exports,
            quota: self.quota,
            type_map: &cfg.volume_type_map,
            created: self.created_by_journal(),
            cancel,
            progress,
            early: self.early_clusters.lock().ok().and_then(|mut e| e.take()),
        }
        .run(volumes)
        .await
    }

    /// Starts the engine on `volumes` and, when configured, the usage archive.
    /// The project's lock is taken first: a run refused for it starts nothing,
    /// not even the usage archive.
    pub async fn start(mut self, cfg: &Config, volumes: Vec<Volume>, opts: RunOptions) -> Result<Running, SetupError> {
        let journal = match self.journal.take() {
            Some(journal) => journal,
            None => Journal::open(&self.journal_path())?,
        };
        let ids = volumes.iter().map(|v| v.id.as_str());
        let locks = super::VolumeLocks::take(&cfg.old_cloud, ids, &self.project_dir)?;
        let new_session = match self.strategy {
            // manage-existing puts the volume in the token's project: scope explicitly.
            ImportStrategy::Manage => {
                let token = self.new.token().await?;
                match token.project_id() {
                    Some(p) => self.new.rescoped(p),
                    None => return Err(SetupError::NoTargetProject),
                }
            }
            ImportStrategy::Replace => self.new,
        };
        let (events_tx, events) = mpsc::channel(1024);
        for line in self.warnings {
            let line = format!("warning: {line}");
            let _ = events_tx.send(EngineEvent::Log { volume: None, line }).await;
        }
        let usage_tx = events_tx.clone();
        // A member's token answers for its own project: the cutover's checks and
        // the usage archive ask with one scoped to this one.
        let old = match self.old.scoped_to(&self.project.id).await {
            Ok(Some(scoped)) => Arc::new(scoped),
            _ => self.old.clone(),
        };
        let pipeline = Arc::new(VolumePipeline {
            pending_snaps: Default::default(),
            snap_drops: Default::default(),
            drives: Arc::new(DrivePool::new(
                cfg.tape.as_ref().and_then(|t| t.drives.as_deref()).unwrap_or_default(),
            )),
            old: self.old_store,
            new: self.new_store,
            new_session: Arc::new(new_session),
            old_session: Some(old.clone()),
            settings: PipelineSettings {
                export_dir: self.export_dir,
                strategy: self.strategy,
                volume_type_map: cfg.volume_type_map.clone(),
                availability_zone: None,
                tape: cfg.tape.clone(),
                wait: Duration::from_secs(600),
                stage_stall: Duration::from_secs(cfg.stall_seconds),
                manifest_dir: self.project_dir.join("sync"),
                full_verify: opts.full_verify,
            },
            events: events_tx,
        });
        let plan = Plan {
            project_id: self.project.id.clone(),
            project_name: self.project.name.clone(),
            volumes,
            project_dir: self.project_dir.clone(),
            keep_exports: opts.keep_exports,
            // One tape job per listed drive.
            concurrency: crate::config::Concurrency {
                tapes: cfg.tape_jobs(),
                ..cfg.concurrency
            },
            stay_alive: opts.stay_alive,
            sync: opts.sync,
            start_over: opts.start_over,
        };
        let (commands, commands_rx) = mpsc::channel(16);
        let engine = tokio::spawn(async move {
            let _locks = locks;
            run_locked(journal, plan, pipeline, commands_rx).await
        });
        let (project_id, usage_dir) = (self.project.id, self.project_dir.join("usage"));
        let (period, concurrency) = (cfg.usage, cfg.concurrency.usage_queries);
        let usage = tokio::spawn(async move {
            let Some(p) = period else { return Ok(()) };
            let period = check_period(p.start, p.end, chrono::Utc::now().naive_utc())
                .map_err(|e| SetupError::UsagePeriod(e.to_string()))?;
            if let Some(line) = period.note.clone() {
                let _ = usage_tx.send(EngineEvent::Log { volume: None, line }).await;
            }
            let archive = UsageArchive {
                session: &old,
                project_id: &project_id,
                dir: &usage_dir,
                concurrency,
                limit: None,
            };
            let (tx, mut rx) = mpsc::channel::<crate::usage::UsageEvent>(64);
            let forward = {
                let usage_tx = usage_tx.clone();
                tokio::spawn(async move {
                    while let Some(e) = rx.recv().await {
                        let _ = usage_tx.send(e.into()).await;
                    }
                })
            };
            let summary = archive.run(&period, Some(&tx)).await;
            drop(tx);
            let _ = forward.await;
            let summary = summary?;
            let line = format!(
                "usage archived to {} ({} months; sum of months {} the total)",
                summary.dir,
                summary.months.len(),
                if summary.sums_match { "equals" } else { "DOES NOT equal" }
            );
            let _ = usage_tx.send(EngineEvent::Log { volume: None, line }).await;
            if !summary.sums_match {
                return Err(SetupError::UsageUnbalanced(summary.dir));
            }
            Ok(())
        });
        Ok(Running {
            events,
            commands,
            engine,
            usage,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn setup_errors_read_as_the_operator_saw_them() {
        assert_eq!(
            SetupError::NoBlockStore.to_string(),
            "both clouds need a ceph section (conf, id, keyring, pool) or a files section (dir)"
        );
        let dir = SetupError::Dir {
            path: "/srv/stackmigrate/work/p1".into(),
            source: Error::from(ErrorKind::PermissionDenied),
        };
        assert_eq!(
            dir.to_string(),
            format!(
                "/srv/stackmigrate/work/p1: {}",
                Error::from(ErrorKind::PermissionDenied)
            )
        );
        assert_eq!(
            SetupError::NoTargetProject.to_string(),
            "the new cloud's token has no project; set new_cloud.project_name"
        );
    }
}

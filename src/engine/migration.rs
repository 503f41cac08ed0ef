//! The coordinator: owns the journal and the per-volume tokens, spawns one
//! worker per volume, journals every transition a worker reports before any
//! event about it goes out, and obeys `EngineCommand`s (abort, retry,
//! shutdown). Volumes flow through the stages concurrently under the stage
//! semaphores, so volume N+1 exports while volume N imports and tapes.

use super::report::write_report;
use super::volume_pipeline::VolumePipeline;
use super::worker::{Limits, Report, Worker};
use super::{
    EngineCommand, EngineEvent, Journal, JournalError, Phase, PlannedVolume, Summary, Transition, VolumeRecord,
};
use crate::config::Concurrency;
use crate::openstack::Volume;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

mod coordinator_commands;

/// What to migrate, decided before the engine starts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub project_id: String,
    pub project_name: String,
    pub volumes: Vec<Volume>,
    /// `<work_dir>/<project id>`: journal, inventory, report, usage.
    pub project_dir: PathBuf,
    pub keep_exports: bool,
    pub concurrency: Concurrency,
    /// Keep running after every volume settled, for retries (the TUI).
    pub stay_alive: bool,
    /// Warm sync: copy modes, rounds per run, cutover asks.
    pub sync: super::SyncPlan,
    /// Volumes the operator starts over (`migrate --start-over`).
    pub start_over: HashSet<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("report {}: {source}", path.display())]
    Report { path: PathBuf, source: std::io::Error },
}

struct Coordinator {
    journal: Journal,
    worker: Arc<Worker>,
    events: mpsc::Sender<EngineEvent>,
    root: CancellationToken,
    tokens: HashMap<String, CancellationToken>,
    tasks: JoinSet<String>,
    /// The live task of each volume: at most one per volume, ever.
    task_volume: HashMap<tokio::task::Id, String>,
    volumes: HashMap<String, Volume>,
    /// Retries asked for while the volume's previous task was still
    /// stopping; each starts when that task has joined.
    queued_retries: HashSet<String>,
    /// Volumes whose next task starts them over (the journal forgets their copy).
    start_over: HashSet<String>,
    /// Volumes whose live task is starting them over (until it is journaled).
    starting_over: HashSet<String>,
}

impl Coordinator {
    async fn emit(&self, e: EngineEvent) {
        let _ = self.events.send(e).await;
    }

    fn is_live(&self, volume: &str) -> bool {
        self.task_volume.values().any(|v| v == volume)
    }

    async fn notice(&self, volume: &str, message: String) {
        tracing::info!(volume, "{message}");
        self.emit(EngineEvent::Notice {
            volume: Some(volume.to_string()),
            message,
        })
        .await;
    }

    fn spawn(&mut self, vol: Volume) {
        // A second worker would run a second tape copy, and the first could
        // no longer be aborted (its token replaced) yet still reach cleanup.
        if self.is_live(&vol.id) {
            tracing::error!(volume = %vol.id, "refused to start a second task for a volume");
            return;
        }
        let rec = self
            .journal
            .get(&vol.id)
            .cloned()
            .unwrap_or_else(|| VolumeRecord::new(&vol.id));
        let token = self.root.child_token();
        self.tokens.insert(vol.id.clone(), token.clone());
        let worker = self.worker.clone();
        let id = vol.id.clone();
        let start_over = self.start_over.remove(&id);
        if start_over {
            self.starting_over.insert(id.clone());
        }
        let handle = self.tasks.spawn(async move {
            let id = vol.id.clone();
            let rec = match start_over {
                true => worker.start_over(&vol, rec, &token).await,
                false => Some(rec),
            };
            if let Some(rec) = rec {
                worker.drive(vol, rec, token).await;
            }
            id
        });
        self.task_volume.insert(handle.id(), id);
    }

    /// A worker that panicked leaves its volume mid-stage: record that as a
    /// failure (or an abort, before any stage) so the run never ends quietly.
    async fn on_panic(&mut self, task: tokio::task::Id, error: String) -> Result<(), JournalError> {
        let Some(volume) = self.task_volume.get(&task).cloned() else {
            return Ok(());
        };
        tracing::error!(volume, "internal error in the volume task: {error}");
        let message = format!("internal error: {error}; see the log, then retry");
        let phase = self.journal.get(&volume).map(|r| r.phase);
        let t = match phase {
            Some(Phase::Exporting) => Transition::Failed {
                stage: super::Stage::Export,
                error: message.clone(),
            },
            Some(Phase::Transferring) => Transition::Failed {
                stage: super::Stage::Import,
                error: message.clone(),
            },
            Some(p) if !matches!(p, Phase::Queued | Phase::Exported) => return Ok(()),
            _ => Transition::Aborted {
                stage: super::Stage::Export,
            },
        };
        let (ack, _) = tokio::sync::oneshot::channel();
        // Journaled even in a shutdown: a panic never passes for "not started".
        self.journal_report(Report {
            volume,
            transition: Some(t),
            ack,
        })
        .await
    }

    /// A volume stopped by a shutdown before it started stays queued: the
    /// report says "not started" (the operator aborted nothing there), and a
    /// later run starts it like any other.
    fn stopped_before_start(&self, volume: &str, t: &Transition) -> bool {
        matches!(t, Transition::Aborted { .. })
            && self.root.is_cancelled()
            && !self.worker.sync.was_aborted(volume)
            && self.journal.get(volume).is_none_or(|r| r.phase == Phase::Queued)
    }

    async fn on_report(&mut self, r: Report) -> Result<(), JournalError> {
        if r.transition
            .as_ref()
            .is_some_and(|t| self.stopped_before_start(&r.volume, t))
        {
            // Not journaled: the worker's caller sees it refused.
            let _ = r.ack.send(None);
            return Ok(());
        }
        self.journal_report(r).await
    }

    /// Journals a worker's transition (or answers its question), then tells
    /// the clients.
    async fn journal_report(&mut self, r: Report) -> Result<(), JournalError> {
        let Some(t) = r.transition else {
            let _ = r.ack.send(self.journal.get(&r.volume).cloned());
            return Ok(());
        };
        match self.journal.record(&r.volume, t.clone()) {
            Ok(rec) => {
                // The ledger's entries are bookkeeping, not a change clients show.
                let bookkeeping = matches!(
                    t,
                    Transition::NewVolumeClaimed { .. }
                        | Transition::NewVolumeCreated { .. }
                        | Transition::SyncWriting { .. }
                );
                if matches!(t, Transition::StartedOver) {
                    // A retry pressed while it started over was for the forgotten copy;
                    // from here on its task runs the fresh copy.
                    self.queued_retries.remove(&r.volume);
                    self.starting_over.remove(&r.volume);
                    let (volume, attempt) = (r.volume.clone(), rec.attempt);
                    self.emit(EngineEvent::StartedOver { volume, attempt }).await;
                }
                if !bookkeeping {
                    self.emit(EngineEvent::StateChanged {
                        volume: r.volume.clone(),
                        phase: rec.phase,
                    })
                    .await;
                }
                if let Some(e) = super::sync_record::sync_round_event(&r.volume, &t, &rec) {
                    self.emit(e).await;
                }
                // A cutover ask (forced, perhaps) ends at a failure or an abort: asked again after a retry.
                if matches!(t, Transition::Failed { .. } | Transition::Aborted { .. }) {
                    self.worker.sync.forget(&r.volume);
                }
                let failed = match &t {
                    Transition::Failed { stage, error } => Some((*stage, error.clone())),
                    Transition::TapeFailed { error } => Some((super::Stage::Tape, error.clone())),
                    _ => None,
                };
                if let Some((stage, error)) = failed {
                    let e = EngineEvent::VolumeFailed {
                        volume: r.volume.clone(),
                        stage,
                        error,
                        attempt: rec.attempt,
                    };
                    self.emit(e).await;
                }
                let _ = r.ack.send(Some(rec));
                Ok(())
            }
            Err(JournalError::Illegal(e)) => {
                tracing::debug!("{e}");
                let _ = r.ack.send(None);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn on_command(&mut self, cmd: EngineCommand) -> Result<bool, JournalError> {
        match cmd {
            // A live task is stopped even when its record already failed:
            // the tape half may still be running.
            EngineCommand::Abort(v) => match self.tokens.get(&v) {
                Some(t) if self.is_live(&v) => {
                    t.cancel();
                    // A cutover asked before the abort is withdrawn by it;
                    // until a retry, a synced volume runs no more rounds and
                    // a shutdown does not pass its abort off as "not started".
                    self.worker.sync.forget(&v);
                    self.worker.sync.abort_asked(&v);
                    if self.queued_retries.remove(&v) {
                        self.notice(&v, format!("volume {v}: the queued retry is dropped by the abort"))
                            .await;
                    }
                    if self.start_over.remove(&v) {
                        self.notice(&v, format!("volume {v}: the queued start-over is dropped by the abort"))
                            .await;
                    }
                }
                _ => {
                    self.notice(&v, format!("volume {v} is not running; nothing to abort"))
                        .await
                }
            },
            EngineCommand::Retry(v) => self.retry(v).await?,
            EngineCommand::StartOver(v) => self.start_over(v).await,
            EngineCommand::Cutover { volume, force } => self.cutover(volume, force).await,
            EngineCommand::Shutdown => {
                self.queued_retries.clear();
                self.root.cancel();
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Runs the plan to the end (or to shutdown). Events go to `pipeline.events`.
pub async fn run_migration(
    plan: Plan,
    pipeline: Arc<VolumePipeline>,
    commands: mpsc::Receiver<EngineCommand>,
) -> Result<Summary, EngineError> {
    let journal = Journal::open(&plan.project_dir.join("journal.jsonl"))?;
    run_locked(journal, plan, pipeline, commands).await
}

/// [`run_migration`] with the project's journal already open, and so locked.
pub async fn run_locked(
    mut journal: Journal,
    plan: Plan,
    pipeline: Arc<VolumePipeline>,
    mut commands: mpsc::Receiver<EngineCommand>,
) -> Result<Summary, EngineError> {
    journal.resume_except(&plan.volumes, &plan.start_over)?;
    let planned = plan
        .volumes
        .iter()
        .map(|v| PlannedVolume {
            id: v.id.clone(),
            name: v.display_name().to_string(),
            size_gib: v.size,
            phase: journal.get(&v.id).map_or(Phase::Queued, |r| r.phase),
            kept: journal.get(&v.id).is_some_and(|r| r.kept_copy().is_some()),
        })
        .collect();
    let events = pipeline.events.clone();
    let _ = events
        .send(EngineEvent::Planned {
            project: plan.project_name.clone(),
            volumes: planned,
        })
        .await;
    let (to_coordinator, mut reports) = mpsc::channel(256);
    let c = &plan.concurrency;
    let limits = Arc::new(Limits {
        in_flight: Default::default(),
        reserved: Default::default(),
        export: Semaphore::new(c.exports),
        import: Semaphore::new(c.imports),
        tape: Semaphore::new(c.tapes),
    });
    let worker = Arc::new(Worker {
        pipeline,
        limits,
        to_coordinator,
        keep_exports: plan.keep_exports,
        sync: Arc::new(super::SyncControl::new(plan.sync.clone())),
    });
    let mut co = Coordinator {
        journal,
        worker,
        events: events.clone(),
        root: CancellationToken::new(),
        tokens: HashMap::new(),
        tasks: JoinSet::new(),
        task_volume: HashMap::new(),
        volumes: plan.volumes.iter().map(|v| (v.id.clone(), v.clone())).collect(),
        queued_retries: HashSet::new(),
        start_over: plan.start_over.clone(),
        starting_over: HashSet::new(),
    };
    for vol in &plan.volumes {
        if !co.journal.get(&vol.id).is_some_and(|r| r.finished(plan.keep_exports)) {
            co.spawn(vol.clone());
        }
    }
    // Not spawned (finished): its task would have said why it cannot start over.
    for v in std::mem::take(&mut co.start_over) {
        let why = co.journal.get(&v).and_then(VolumeRecord::start_over_refusal);
        co.notice(
            &v,
            format!("volume {v}: cannot start it over: {}", why.unwrap_or_default()),
        )
        .await;
    }
    let (mut shutdown, mut commands_open) = (false, true);
    loop {
        if co.tasks.is_empty() && (shutdown || !plan.stay_alive || !commands_open) {
            break;
        }
        tokio::select! {
            Some(r) = reports.recv() => co.on_report(r).await?,
            Some(done) = co.tasks.join_next_with_id(), if !co.tasks.is_empty() => match done {
                Ok((id, _)) => co.joined(id).await?,
                Err(e) => {
                    co.on_panic(e.id(), e.to_string()).await?;
                    co.joined(e.id()).await?;
                }
            },
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => shutdown |= co.on_command(cmd).await?,
                None => commands_open = false,
            },
        }
    }
    let summary = write_report(&plan, &co.journal).map_err(|(path, source)| EngineError::Report { path, source })?;
    let _ = events.send(EngineEvent::Finished(summary.clone())).await;
    Ok(summary)
}

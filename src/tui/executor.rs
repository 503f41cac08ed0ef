//! Carries out `Effect`s: each becomes a task whose result comes back to the
//! UI loop as a message, so the loop never waits on the network or disk.

use super::loads;
use super::screens::CheckKind;
use super::{Action, Effect};
use crate::config::Config;
use crate::engine::{EngineCommand, Running};
use crate::openstack::Session;
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

/// What background work sends the UI loop.
pub enum Bg {
    Action(Action),
    /// The engine started: its event stream and command channel.
    Started(Running),
}

pub struct Executor {
    cfg: Arc<Config>,
    tx: mpsc::UnboundedSender<Bg>,
    /// One old-cloud session for everything, so its token is reused.
    old: Result<Arc<Session>, String>,
    /// To the engine, through one forwarding task: commands arrive in the
    /// order the operator gave them (an abort before the retry after it).
    commands: Option<mpsc::UnboundedSender<EngineCommand>>,
    /// Stops the running pre-flight (a slow used-bytes measure) when the plan is left.
    prepare: CancellationToken,
}

/// Counting volumes of many projects at once; a few at a time.
const STATS_AT_ONCE: usize = 4;

impl Executor {
    pub fn new(cfg: Arc<Config>, tx: mpsc::UnboundedSender<Bg>) -> Self {
        let old = Session::new("old", &cfg.old_cloud)
            .map(Arc::new)
            .map_err(|e| e.to_string());
        Self {
            cfg,
            tx,
            old,
            commands: None,
            prepare: CancellationToken::new(),
        }
    }

    pub fn sender(&self) -> mpsc::UnboundedSender<Bg> {
        self.tx.clone()
    }

    pub fn set_commands(&mut self, engine: mpsc::Sender<EngineCommand>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(cmd) = rx.recv().await {
                if engine.send(cmd).await.is_err() {
                    tracing::warn!("the engine has ended; command dropped");
                }
            }
        });
        self.commands = Some(tx);
    }

    fn send(tx: &mpsc::UnboundedSender<Bg>, a: Action) {
        // A closed channel means the UI is gone; the result has no reader.
        let _ = tx.send(Bg::Action(a));
    }

    pub fn run(&mut self, effect: Effect) {
        let (cfg, tx) = (self.cfg.clone(), self.tx.clone());
        let old = match &self.old {
            Ok(s) => s.clone(),
            Err(e) => {
                let e = e.clone();
                return self.without_session(effect, e);
            }
        };
        match effect {
            Effect::RunChecks => {
                for (index, kind) in CheckKind::ALL.into_iter().enumerate() {
                    let (cfg, tx, old) = (cfg.clone(), tx.clone(), old.clone());
                    tokio::spawn(async move {
                        let line = loads::check(kind, &cfg, Some(&old)).await.into();
                        Self::send(&tx, Action::CheckDone { index, line });
                    });
                }
            }
            Effect::LoadProjects => {
                tokio::spawn(async move {
                    let r = loads::projects(&old, &cfg).await;
                    let list: Vec<_> = r.clone().unwrap_or_default();
                    Self::send(&tx, Action::ProjectsLoaded(r));
                    let limit = Arc::new(Semaphore::new(STATS_AT_ONCE));
                    for entry in list {
                        let (old, tx, limit) = (old.clone(), tx.clone(), limit.clone());
                        tokio::spawn(async move {
                            let Ok(_permit) = limit.acquire().await else { return };
                            let stats = loads::project_stats(&old, &entry.project).await;
                            Self::send(
                                &tx,
                                Action::ProjectStats {
                                    id: entry.project.id,
                                    stats,
                                },
                            );
                        });
                    }
                });
            }
            Effect::LoadVolumes(project) => {
                tokio::spawn(async move {
                    let result = loads::volumes(&old, &cfg, &project).await;
                    Self::send(
                        &tx,
                        Action::VolumesLoaded {
                            project_id: project.id,
                            result,
                        },
                    );
                });
            }
            Effect::LoadTarget => {
                tokio::spawn(async move { Self::send(&tx, Action::TargetLoaded(loads::target(&cfg).await)) });
            }
            Effect::Prepare { project, volumes } => {
                self.prepare.cancel();
                self.prepare = CancellationToken::new();
                let cancel = self.prepare.clone();
                let (progress, mut slow) = mpsc::unbounded_channel();
                let forward = tx.clone();
                tokio::spawn(async move {
                    while let Some(p) = slow.recv().await {
                        Self::send(&forward, Action::PreflightProgress(p));
                    }
                });
                tokio::spawn(async move {
                    let (lines, inventory, begun) =
                        loads::prepare(&cfg, old, project, &volumes, &cancel, progress).await;
                    // A cancelled pre-flight's lines belong to a plan no longer shown.
                    if !cancel.is_cancelled() {
                        Self::send(
                            &tx,
                            Action::PlanReady {
                                lines,
                                inventory,
                                begun,
                            },
                        );
                    }
                });
            }
            Effect::CancelPrepare => self.prepare.cancel(),
            Effect::Start { project, volumes, sync } => {
                tokio::spawn(async move {
                    let msg = match loads::start(&cfg, old, project, volumes, sync).await {
                        Ok(running) => Bg::Started(running),
                        Err(e) => Bg::Action(Action::RunFailed(e)),
                    };
                    let _ = tx.send(msg);
                });
            }
            Effect::Engine(cmd) => self.command(cmd),
            Effect::LoadReport(path) => {
                tokio::task::spawn_blocking(move || Self::send(&tx, Action::ReportLoaded(loads::report(&path))));
            }
        }
    }

    fn command(&self, cmd: EngineCommand) {
        let Some(commands) = &self.commands else {
            tracing::warn!("engine command {cmd:?} with no engine running");
            return;
        };
        if commands.send(cmd).is_err() {
            tracing::warn!("the engine has ended; command dropped");
        }
    }

    /// Without an old-cloud session only the checks can say why.
    fn without_session(&mut self, effect: Effect, error: String) {
        match effect {
            Effect::RunChecks => {
                for (index, kind) in CheckKind::ALL.into_iter().enumerate() {
                    let (cfg, tx, error) = (self.cfg.clone(), self.tx.clone(), error.clone());
                    tokio::spawn(async move {
                        let r = match kind {
                            CheckKind::OldAuth => Err(error),
                            other => loads::check(other, &cfg, None).await,
                        };
                        Self::send(&tx, Action::CheckDone { index, line: r.into() });
                    });
                }
            }
            Effect::Engine(cmd) => self.command(cmd),
            Effect::CancelPrepare => self.prepare.cancel(),
            _ => Self::send(&self.tx, Action::RunFailed(error)),
        }
    }
}

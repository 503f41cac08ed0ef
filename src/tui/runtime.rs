//! The one loop: `select!` over terminal input, the engine's events,
//! background results and a tick; draw only when something changed, at most
//! 25 times a second. Idle means no drawing at all.

use super::app::App;
use super::executor::{Bg, Executor};
use super::{update, Action};
use crate::config::Config;
use crate::engine::EngineEvent;
use crossterm::event::{Event, EventStream, KeyEventKind};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

/// The shortest time between two frames.
const FRAME: Duration = Duration::from_millis(40);

/// How the dashboard starts, beside its config.
#[derive(Debug, Default)]
pub struct Launch {
    /// From loading the config: shown on the connect screen.
    pub warnings: Vec<String>,
    /// The pause between warm-sync rounds (`None`: [`SYNC_PAUSE`](super::app::SYNC_PAUSE)).
    pub sync_pause: Option<Duration>,
    /// Lines from outside the run (the demo's maintenance window), shown
    /// in the log and the flash line as they come.
    pub notes: Option<mpsc::UnboundedReceiver<String>>,
    /// The run's directory is removed when the dashboard exits (the demo
    /// without `--work-dir`): nothing is left to resume, and it says so.
    pub removed_on_exit: bool,
}

/// Runs the TUI until the operator quits; the exit status follows the run's
/// outcome as `migrate`'s does (0 all verified or nothing run, 2 some need attention).
pub async fn run(cfg: Config, log_file: PathBuf, launch: Launch) -> std::io::Result<i32> {
    let mut event_loop = EventLoop::new(cfg, log_file);
    event_loop.app.connect.warnings = launch.warnings;
    if let Some(pause) = launch.sync_pause {
        event_loop.app.sync_pause = pause;
    }
    event_loop.notes = launch.notes;
    event_loop.app.removed_on_exit = launch.removed_on_exit;
    event_loop.app.summary.removed_on_exit = launch.removed_on_exit;
    // Restores the terminal on panic as well.
    let mut terminal = ratatui::try_init()?;
    let result = event_loop.run(&mut terminal).await;
    ratatui::restore();
    result
}

struct EventLoop {
    app: App,
    exec: Executor,
    bg: mpsc::UnboundedReceiver<Bg>,
    engine: Option<mpsc::Receiver<EngineEvent>>,
    notes: Option<mpsc::UnboundedReceiver<String>>,
}

async fn next_signal(signals: &mut Option<crate::signals::StopSignals>) -> &'static str {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_note(rx: &mut Option<mpsc::UnboundedReceiver<String>>) -> Option<String> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn next_event(rx: &mut Option<mpsc::Receiver<EngineEvent>>) -> Option<EngineEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl EventLoop {
    fn new(cfg: Config, log_file: PathBuf) -> Self {
        let (tx, bg) = mpsc::unbounded_channel();
        let app = App::new(cfg, log_file, Instant::now());
        let exec = Executor::new(app.cfg.clone(), tx);
        Self {
            app,
            exec,
            bg,
            engine: None,
            notes: None,
        }
    }

    fn dispatch(&mut self, action: Action) {
        self.app.now = Instant::now();
        let was_dirty = self.app.dirty;
        update(&mut self.app, action);
        self.app.dirty |= was_dirty;
        for effect in std::mem::take(&mut self.app.effects) {
            self.exec.run(effect);
        }
    }

    fn started(&mut self, run: crate::engine::Running) {
        self.engine = Some(run.events);
        self.exec.set_commands(run.commands);
        let tx = self.exec_sender();
        let (engine, usage) = (run.engine, run.usage);
        tokio::spawn(async move {
            let r = match engine.await {
                Ok(Ok(summary)) => Ok(summary),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(format!("engine task: {e}")),
            };
            let _ = tx.send(Bg::Action(Action::EngineDone(r)));
            let u = match usage.await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(e) => Err(format!("usage task: {e}")),
            };
            let _ = tx.send(Bg::Action(Action::UsageDone(u)));
        });
        self.dispatch(Action::RunStarted);
    }

    fn exec_sender(&self) -> mpsc::UnboundedSender<Bg> {
        self.exec.sender()
    }

    fn exit_code(&self) -> i32 {
        if self.app.signals > 0 {
            return crate::exit_codes::INTERRUPTED;
        }
        use crate::tui::screens::UsageStatus;
        let usage_ok = matches!(self.app.summary.usage, UsageStatus::Done | UsageStatus::Off);
        crate::exit_codes::of_dashboard(
            self.app.summary.summary.as_ref(),
            self.app.dashboard.is_some(),
            usage_ok,
        )
    }

    async fn run(mut self, terminal: &mut DefaultTerminal) -> std::io::Result<i32> {
        let size = terminal.size()?;
        self.dispatch(Action::Resize(size.width, size.height));
        let mut input = EventStream::new();
        // After a signal the terminal may be gone (SIGHUP): its errors then
        // end input and drawing, not the graceful stop.
        let (mut input_open, mut drawing) = (true, true);
        let mut signals = crate::signals::StopSignals::new()
            .inspect_err(|e| tracing::warn!("cannot watch for stop signals: {e}"))
            .ok();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut last_draw = Instant::now() - FRAME;
        while !self.app.quit {
            let next_frame = tokio::time::Instant::from_std(last_draw + FRAME);
            tokio::select! {
                biased;
                sig = next_signal(&mut signals) => self.dispatch(Action::Signal(sig)),
                ev = input.next(), if input_open => match ev {
                    Some(Ok(Event::Key(k))) if k.kind == KeyEventKind::Press => {
                        if let Some(a) = self.app.key_action(&k) {
                            self.dispatch(a);
                        }
                    }
                    Some(Ok(Event::Resize(w, h))) => self.dispatch(Action::Resize(w, h)),
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None if self.app.signals > 0 => input_open = false,
                    Some(Err(e)) => return Err(e),
                    None => break,
                },
                // Coalesces bursts of progress into one frame.
                _ = tokio::time::sleep_until(next_frame), if self.app.dirty && drawing => {
                    match terminal.draw(|f| f.render_widget(&self.app, f.area())) {
                        Ok(_) => {}
                        Err(_) if self.app.signals > 0 => drawing = false,
                        Err(e) => return Err(e),
                    }
                    self.app.dirty = false;
                    last_draw = Instant::now();
                }
                // Engine events before background results: `Finished` must
                // land before the engine task's own end is reported.
                ev = next_event(&mut self.engine), if self.engine.is_some() => match ev {
                    Some(e) => self.dispatch(Action::Engine(e)),
                    None => self.engine = None,
                },
                note = next_note(&mut self.notes), if self.notes.is_some() => match note {
                    Some(line) => self.dispatch(Action::Note(line)),
                    None => self.notes = None,
                },
                Some(msg) = self.bg.recv() => match msg {
                    Bg::Action(a) => self.dispatch(a),
                    Bg::Started(run) => self.started(run),
                },
                // Only while a run moves or a flash waits to expire.
                _ = tick.tick(), if self.app.wants_ticks() => self.dispatch(Action::Tick),
            }
        }
        Ok(self.exit_code())
    }
}

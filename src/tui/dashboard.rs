//! The dashboard's state: every volume's progress (warm-sync rounds
//! included), the export throughput, the usage months and the log, folded
//! from `EngineEvent`s by [`Dashboard::apply`]. The panes in `dashboard/`
//! draw it.

mod export_pane;
mod log_pane;
mod stage_progress;
mod sync_rounds;
mod throughput;
mod transfer_pane;
mod usage_pane;
mod view;
mod volume_list;
mod volume_progress;

pub use log_pane::{Level, LogLine, LogPane};
pub use stage_progress::StageProgress;
pub use sync_rounds::SyncRounds;
pub use throughput::Throughput;
pub use usage_pane::UsagePane;
pub use volume_progress::VolumeProgress;

use super::screens::UsageStatus;
use super::scroll::{step, Scroll};
use crate::engine::{EngineEvent, Phase, Stage};
use crate::openstack::Volume;
use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub project: String,
    pub volumes: Vec<VolumeProgress>,
    index: HashMap<String, usize>,
    pub cursor: usize,
    pub scroll: Scroll,
    pub throughput: Throughput,
    pub log: LogPane,
    pub usage: UsagePane,
    pub started: Instant,
    pub now: Instant,
    pub tape_enabled: bool,
    /// No export file is kept (`export_dir: null`): a finished copy has none to delete.
    pub no_export_file: bool,
    /// Small terminals: the usage pane instead of the log (tab).
    pub show_usage: bool,
    /// Shutdown was sent; waiting for `Finished`.
    pub stopping: bool,
    pub finished: bool,
}

/// How many volumes are where, for the header and titles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub verified: usize,
    pub failed: usize,
    pub aborted: usize,
    pub running: usize,
    /// Warm-synced, waiting for cutover.
    pub synced: usize,
    pub exported: usize,
}

/// Whether a dashboard area of this size shows usage and log side by side;
/// compact ones switch between them with tab.
pub fn is_wide(width: u16, height: u16) -> bool {
    width >= 110 && height >= 30
}

impl Dashboard {
    pub fn new(
        project: &str,
        volumes: &[Volume],
        tape_enabled: bool,
        usage_months: Option<usize>,
        now: Instant,
    ) -> Self {
        let volumes: Vec<VolumeProgress> = volumes
            .iter()
            .map(|v| VolumeProgress::new(&v.id, v.display_name(), v.size))
            .collect();
        Self {
            project: crate::escaped::escape(project).into_owned(),
            index: volumes.iter().enumerate().map(|(i, v)| (v.id.clone(), i)).collect(),
            volumes,
            cursor: 0,
            scroll: Scroll::default(),
            throughput: Throughput::new(now),
            log: LogPane::default(),
            usage: UsagePane {
                months: Vec::new(),
                expected: usage_months,
                status: if usage_months.is_some() {
                    UsageStatus::Running
                } else {
                    UsageStatus::Off
                },
            },
            started: now,
            now,
            tape_enabled,
            no_export_file: false,
            show_usage: false,
            stopping: false,
            finished: false,
        }
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut VolumeProgress> {
        self.index.get(id).copied().and_then(|i| self.volumes.get_mut(i))
    }

    fn name(&self, id: &str) -> String {
        self.index.get(id).map_or_else(
            || crate::tui::format::short_id(id).to_string(),
            |i| self.volumes[*i].name.clone(),
        )
    }

    pub fn log(&mut self, who: Option<&str>, text: String, level: Level) {
        let at = self.now.saturating_duration_since(self.started).as_secs();
        let who = who.map(|id| self.name(id));
        let mut text = crate::escaped::escape(&text).into_owned();
        // The engine's lines often name the volume first; the log already does.
        if let Some(rest) = who.as_ref().and_then(|w| text.strip_prefix(&format!("{w}: "))) {
            text = rest.to_string();
        }
        self.log.push(LogLine { at, who, text, level });
    }

    /// Folds one engine event into the dashboard.
    pub fn apply(&mut self, e: &EngineEvent, now: Instant) {
        self.now = now;
        match e {
            EngineEvent::Planned { project, volumes } => {
                self.project = crate::escaped::escape(project).into_owned();
                for p in volumes {
                    if !self.index.contains_key(&p.id) {
                        self.index.insert(p.id.clone(), self.volumes.len());
                        self.volumes.push(VolumeProgress::new(&p.id, &p.name, p.size_gib));
                    }
                    if let Some(v) = self.get_mut(&p.id) {
                        v.set_phase(p.phase);
                        v.copy_verified |= p.kept;
                    }
                }
                let earlier = volumes.iter().filter(|p| p.phase != Phase::Queued).count();
                let text = match earlier {
                    0 => format!("plan: {} volume(s)", volumes.len()),
                    n => format!("plan: {} volume(s), {n} resumed from the journal", volumes.len()),
                };
                self.log(None, text, Level::Info);
            }
            EngineEvent::StateChanged { volume, phase } => {
                // Every journaled step says its phase (an import verified while
                // the tape still runs): the log says a phase once, when it changes.
                let mut changed = true;
                if let Some(v) = self.get_mut(volume) {
                    changed = v.phase != *phase;
                    v.set_phase(*phase);
                }
                if !changed {
                    return;
                }
                let level = match phase {
                    Phase::Done | Phase::Cleaned => Level::Good,
                    Phase::Failed | Phase::Aborted | Phase::BackupFailed => Level::Bad,
                    _ => Level::Info,
                };
                let word = match phase {
                    Phase::Queued => "queued",
                    Phase::Exporting => "exporting",
                    Phase::Exported => "exported",
                    Phase::Transferring if self.tape_enabled => "importing and taping",
                    Phase::Transferring => "importing",
                    Phase::Done => "verified",
                    Phase::Cleaned if self.no_export_file => "done (no export file kept)",
                    Phase::Cleaned => "done, export deleted",
                    Phase::BackupFailed => "verified, but the tape copy failed",
                    Phase::Failed => "failed",
                    Phase::Aborted => "aborted",
                    Phase::Syncing => "syncing",
                    Phase::Synced => "synced: waiting for the next round or cutover",
                    Phase::CuttingOver => "cutting over",
                };
                self.log(Some(volume), format!("→ {word}"), level);
            }
            EngineEvent::StageStarted { volume, stage } => {
                if let Some(s) = self.get_mut(volume).and_then(|v| v.stage_mut(*stage)) {
                    s.start(now);
                }
            }
            EngineEvent::Progress {
                volume,
                stage,
                bytes,
                total,
            } => {
                let delta = self
                    .get_mut(volume)
                    .and_then(|v| v.stage_mut(*stage))
                    .map_or(0, |s| s.progress(*bytes, *total, now));
                // What the old cluster streams: exports, and each round's delta.
                if matches!(stage, Stage::Export | Stage::Sync | Stage::Cutover) {
                    self.throughput.add(delta, now);
                }
            }
            EngineEvent::StageFinished { volume, stage } => {
                if let Some(v) = self.get_mut(volume) {
                    v.stage_finished(*stage, now);
                }
            }
            EngineEvent::StartedOver { volume, attempt } => {
                if let Some(v) = self.get_mut(volume) {
                    v.start_over(*attempt);
                }
                let line = format!("started over (attempt {attempt}): its copy is forgotten, copied afresh");
                self.log(Some(volume), line, Level::Info);
            }
            EngineEvent::VolumeFailed {
                volume,
                stage,
                error,
                attempt,
            } => {
                if let Some(v) = self.get_mut(volume) {
                    v.error = Some((*stage, error.clone()));
                    v.attempt = *attempt;
                    if let Some(s) = v.stage_mut(*stage) {
                        s.fail(now);
                    }
                    // A tape fed from the export's stream (no export file) ends with it.
                    if *stage == Stage::Export {
                        v.tape.fail(now);
                    }
                }
                self.log(
                    Some(volume),
                    format!("failed at {stage} (attempt {attempt}): {error}"),
                    Level::Bad,
                );
            }
            EngineEvent::Log { volume, line } => self.log(volume.as_deref(), line.clone(), Level::Info),
            EngineEvent::Notice { volume, message } => {
                if let Some(v) = volume.as_deref().and_then(|id| self.get_mut(id)) {
                    v.refusal = Some(message.clone());
                }
                let before = self.log.last().cloned();
                self.log(volume.as_deref(), message.clone(), Level::Bad);
                // A refused cutover is both logged and noticed: one line is enough.
                if before.is_some_and(|b| self.log.last().is_some_and(|l| l.who == b.who && l.text == b.text)) {
                    self.log.pop();
                }
            }
            EngineEvent::CleanupAction { volume, action } => {
                self.log(volume.as_deref(), format!("cleanup: {action}"), Level::Good)
            }
            EngineEvent::UsageMonth(m) => self.usage.months.push(m.clone()),
            // The log has the engine's own line for the round; this feeds the sync rows.
            EngineEvent::SyncRound {
                volume,
                round,
                bytes,
                projected_cutover_s,
                last,
                ..
            } => {
                if let Some(v) = self.get_mut(volume) {
                    v.sync
                        .get_or_insert_with(SyncRounds::default)
                        .add(*round, *bytes, *projected_cutover_s, *last);
                }
            }
            EngineEvent::Finished(_) => {
                self.finished = true;
                self.stopping = false;
            }
        }
    }

    /// Once a second during a run: the sparkline moves on.
    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        self.throughput.roll(now);
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts {
            total: self.volumes.len(),
            ..Counts::default()
        };
        for v in &self.volumes {
            match v.phase {
                Phase::Done | Phase::Cleaned | Phase::BackupFailed => c.verified += 1,
                Phase::Failed => c.failed += 1,
                Phase::Aborted => c.aborted += 1,
                Phase::Queued => {}
                Phase::Exporting | Phase::Exported | Phase::Transferring | Phase::Syncing | Phase::CuttingOver => {
                    c.running += 1
                }
                Phase::Synced => c.synced += 1,
            }
            if v.export.state == crate::engine::Track::Succeeded {
                c.exported += 1;
            }
        }
        c
    }

    pub fn settled(&self) -> bool {
        self.volumes.iter().all(VolumeProgress::is_settled)
    }

    /// Every volume verified, taped and its export removed: nothing left to do.
    pub fn all_clean(&self) -> bool {
        self.volumes.iter().all(|v| v.phase == Phase::Cleaned)
    }

    /// The volumes a cutover may be asked for now (`C`).
    pub fn cut_over_candidates(&self) -> Vec<&VolumeProgress> {
        self.volumes.iter().filter(|v| v.can_cut_over()).collect()
    }

    pub fn selected(&self) -> Option<&VolumeProgress> {
        self.volumes.get(self.cursor)
    }

    pub fn selected_mut(&mut self) -> Option<&mut VolumeProgress> {
        self.volumes.get_mut(self.cursor)
    }

    pub fn move_by(&mut self, delta: isize) {
        self.cursor = step(self.cursor, self.volumes.len(), delta);
    }
}

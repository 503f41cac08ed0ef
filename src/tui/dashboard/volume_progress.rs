//! One volume on the dashboard: its phase (from `StateChanged`, which the
//! engine journals first), its four stage gauges, its warm-sync rounds, and
//! the words and symbol the lists show for it.

use super::{StageProgress, SyncRounds};
use crate::engine::{Phase, Stage, Track};

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeProgress {
    pub id: String,
    pub name: String,
    pub size_gib: u64,
    pub phase: Phase,
    pub export: StageProgress,
    pub import: StageProgress,
    pub verify: StageProgress,
    pub tape: StageProgress,
    pub error: Option<(Stage, String)>,
    pub attempt: u32,
    /// An abort was sent and the volume has not started again since: a retry
    /// pressed now is sent (the engine queues it until the task has stopped).
    pub aborting: bool,
    /// Synced, and an abort ended its task: no more rounds until a retry
    /// (`r`) or the next run; a cutover still runs.
    pub rounds_stopped: bool,
    /// Warm sync's rounds, once one is verified.
    pub sync: Option<SyncRounds>,
    /// The engine's last notice about it: a refused cutover, naming the
    /// server (the force dialog repeats it).
    pub refusal: Option<String>,
    /// A one-pass copy's read-back passed (or the journal says, at a resume,
    /// that the copy is verified or cut over): kept, whatever fails after
    /// (tape). A warm sync's round 1 is not (it is not final).
    pub copy_verified: bool,
}

impl VolumeProgress {
    pub fn new(id: &str, name: &str, size_gib: u64) -> Self {
        Self {
            id: id.to_string(),
            // Shown in panes, the list and log lines: escaped once here.
            name: crate::escaped::escape(name).into_owned(),
            size_gib,
            phase: Phase::Queued,
            export: StageProgress::default(),
            import: StageProgress::default(),
            verify: StageProgress::default(),
            tape: StageProgress::default(),
            error: None,
            refusal: None,
            copy_verified: false,
            attempt: 1,
            aborting: false,
            rounds_stopped: false,
            sync: None,
        }
    }

    pub fn stage_mut(&mut self, stage: Stage) -> Option<&mut StageProgress> {
        match stage {
            Stage::Export => Some(&mut self.export),
            Stage::Import => Some(&mut self.import),
            Stage::Verify => Some(&mut self.verify),
            Stage::Tape => Some(&mut self.tape),
            // A round streams from the old cluster like the export does.
            Stage::Sync | Stage::Cutover => Some(&mut self.export),
            Stage::Cleanup => None,
        }
    }

    /// A new phase. Going back (retry, resume) resets the stages still to run.
    /// Started over: nothing of its earlier copy is shown any more.
    pub fn start_over(&mut self, attempt: u32) {
        let fresh = Self {
            id: std::mem::take(&mut self.id),
            name: std::mem::take(&mut self.name),
            size_gib: self.size_gib,
            attempt,
            ..Self::new("", "", 0)
        };
        *self = fresh;
    }

    /// A stage ended well. The read-back of a one-pass copy (transferring)
    /// verifies it; a warm sync's round 1 verifies an image still to change.
    pub fn stage_finished(&mut self, stage: Stage, now: std::time::Instant) {
        if let Some(s) = self.stage_mut(stage) {
            s.finish(now);
        }
        if stage == Stage::Verify && self.phase == Phase::Transferring {
            self.copy_verified = true;
        }
    }

    pub fn set_phase(&mut self, phase: Phase) {
        // Synced: a round that ended verified before the abort reached it;
        // the task stops there, with nothing left to stop.
        // An abort that comes back synced, from a round or the wait between
        // two, ended the task there (a retry's `Synced` follows `Aborted`).
        let ended = self.aborting && matches!(self.phase, Phase::Synced | Phase::Syncing);
        self.rounds_stopped = phase == Phase::Synced && (self.rounds_stopped || ended);
        if matches!(phase, Phase::Queued | Phase::Exported | Phase::Synced) {
            self.aborting = false;
        }
        match phase {
            Phase::Queued => {
                self.error = None;
                self.export = StageProgress::default();
                self.reset_transfer();
            }
            Phase::Exported if self.is_settled() => {
                self.error = None;
                self.reset_transfer();
            }
            Phase::Exported => self.export.done_earlier(),
            // Round 1's import and verify gauges are old news; the finish follows the final round.
            Phase::CuttingOver => {
                self.import = StageProgress::default();
                self.verify = StageProgress::default();
            }
            Phase::Done | Phase::Cleaned => {
                for s in [&mut self.export, &mut self.import, &mut self.verify] {
                    s.done_earlier();
                }
            }
            _ => {}
        }
        self.phase = phase;
    }

    fn reset_transfer(&mut self) {
        for s in [&mut self.import, &mut self.verify, &mut self.tape] {
            if s.state != Track::Succeeded {
                *s = StageProgress::default();
            }
        }
    }

    pub fn is_settled(&self) -> bool {
        matches!(
            self.phase,
            Phase::Done | Phase::BackupFailed | Phase::Failed | Phase::Aborted | Phase::Cleaned
        )
    }

    pub fn retryable(&self) -> bool {
        matches!(self.phase, Phase::Failed | Phase::Aborted | Phase::BackupFailed)
    }

    /// Something still runs for it: a stage, or a tape copy that outlives a
    /// failed import.
    pub fn busy(&self) -> bool {
        !self.is_settled() || self.tape.state == Track::Running
    }

    /// An abort has something to stop: a stage, or a synced volume's next
    /// rounds (its task waits between them).
    pub fn abortable(&self) -> bool {
        self.busy() && !self.aborting && !self.rounds_stopped
    }

    /// It may be started over: it failed or was aborted, and nothing of it
    /// still runs that the dashboard knows of (the engine refuses while the
    /// task is still stopping, and a copy already verified or cut over).
    pub fn can_start_over(&self) -> bool {
        let kept = self.copy_verified || self.verified() || self.sync.as_ref().is_some_and(|s| s.cut_over);
        matches!(self.phase, Phase::Failed | Phase::Aborted) && !self.busy() && !kept
    }

    /// A cutover may be asked for: a round is verified and none is final yet
    /// (while a round runs, the engine takes the ask after it).
    pub fn can_cut_over(&self) -> bool {
        // An abort under way ends the task that would take the ask.
        !self.aborting
            && match self.phase {
                Phase::Synced => true,
                Phase::Syncing => self.sync.as_ref().is_some_and(|s| !s.cut_over && s.last().is_some()),
                _ => false,
            }
    }

    /// The round running now, when the rounds are known (not after a resume).
    fn next_round(&self) -> Option<u32> {
        self.sync.as_ref().and_then(SyncRounds::last).map(|(r, _)| r + 1)
    }

    pub fn verified(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::BackupFailed | Phase::Cleaned)
    }

    /// The import half's gauge: verification once it started, else the import.
    pub fn import_gauge(&self) -> (&'static str, &StageProgress) {
        if self.verify.state != Track::Pending {
            ("verify", &self.verify)
        } else {
            ("import", &self.import)
        }
    }

    pub fn symbol(&self) -> &'static str {
        match self.phase {
            Phase::Queued => "·",
            Phase::Exporting | Phase::Exported | Phase::Transferring | Phase::Syncing | Phase::CuttingOver => "▶",
            Phase::Synced => "≈",
            Phase::Done | Phase::Cleaned => "✔",
            Phase::BackupFailed => "!",
            Phase::Failed => "✘",
            Phase::Aborted => "⊘",
        }
    }

    /// What the import half and tape half are doing, in a word.
    pub fn activity(&self) -> &'static str {
        match self.phase {
            Phase::Exported => "waiting",
            Phase::Transferring => {
                let (kind, g) = self.import_gauge();
                match (g.is_running(), kind, self.tape.is_running()) {
                    (true, "verify", _) => "verifying",
                    (true, _, _) => "importing",
                    (false, _, true) => "taping",
                    _ => "waiting",
                }
            }
            Phase::Syncing => "syncing",
            Phase::CuttingOver => "cutting over",
            _ => "",
        }
    }

    pub fn label(&self) -> String {
        let pct = |s: &StageProgress| (s.ratio() * 100.0).floor() as u32;
        match self.phase {
            Phase::Queued => "queued".into(),
            Phase::Exporting => format!("export {}%", pct(&self.export)),
            Phase::Exported => "exported".into(),
            Phase::Transferring => {
                let (kind, g) = self.import_gauge();
                if g.is_running() {
                    format!("{kind} {}%", pct(g))
                } else if self.tape.is_running() {
                    format!("tape {}%", pct(&self.tape))
                } else {
                    "waiting".into()
                }
            }
            Phase::Done => "verified".into(),
            Phase::Cleaned => "done".into(),
            Phase::BackupFailed => "tape failed".into(),
            Phase::Failed => match &self.error {
                Some((stage, _)) => format!("{stage} failed"),
                None => "failed".into(),
            },
            Phase::Aborted => "aborted".into(),
            // Round 1 is the import of the export; later rounds stream a delta.
            Phase::Syncing => match self.next_round() {
                None if self.export.state == Track::Succeeded => format!("round 1 {}%", pct(self.import_gauge().1)),
                None => format!("sync {}%", pct(&self.export)),
                Some(n) => format!("round {n} {}%", pct(&self.export)),
            },
            Phase::Synced => match self.sync.as_ref().and_then(SyncRounds::last) {
                Some((n, _)) => format!("synced (round {n})"),
                None => "synced".into(),
            },
            Phase::CuttingOver => format!("cutover {}%", pct(&self.export)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn labels_follow_phase_and_stages() {
        let now = Instant::now();
        let mut v = VolumeProgress::new("v", "data", 1);
        assert_eq!((v.symbol(), v.label().as_str()), ("·", "queued"));
        v.set_phase(Phase::Exporting);
        v.export.start(now);
        v.export.progress(1, 4, now);
        assert_eq!(v.label(), "export 25%");
        v.set_phase(Phase::Exported);
        v.set_phase(Phase::Transferring);
        assert_eq!(v.label(), "waiting");
        v.tape.start(now);
        assert_eq!(v.label(), "tape 0%");
        v.import.start(now);
        assert_eq!(v.label(), "import 0%");
        v.verify.start(now);
        assert_eq!(v.import_gauge().0, "verify");
        v.error = Some((Stage::Verify, "mismatch".into()));
        v.set_phase(Phase::Failed);
        assert_eq!((v.symbol(), v.label().as_str()), ("✘", "verify failed"));
        assert!(v.retryable() && v.is_settled());
    }

    #[test]
    fn a_verified_copy_is_kept_and_a_sync_round_one_is_not() {
        let now = Instant::now();
        // Warm sync: round 1 imported and read back, then a later round failed.
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Syncing);
        for stage in [Stage::Import, Stage::Verify] {
            v.import.start(now);
            v.stage_finished(stage, now);
        }
        v.set_phase(Phase::Failed);
        assert!(v.can_start_over(), "round 1 is not a verified copy: {v:?}");
        // One pass: verified, then the tape half failed.
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Transferring);
        v.stage_finished(Stage::Import, now);
        v.set_phase(Phase::Failed);
        assert!(v.can_start_over(), "imported, not yet read back");
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Transferring);
        v.stage_finished(Stage::Verify, now);
        v.set_phase(Phase::Failed);
        assert!(!v.can_start_over(), "verified: kept");
        v.start_over(2);
        assert!(!v.copy_verified, "a fresh copy");
    }

    #[test]
    fn retry_resets_what_is_left() {
        let now = Instant::now();
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Exported);
        v.set_phase(Phase::Transferring);
        v.tape.start(now);
        v.tape.finish(now);
        v.import.start(now);
        v.import.fail(now);
        v.error = Some((Stage::Import, "boom".into()));
        v.set_phase(Phase::Failed);
        v.set_phase(Phase::Exported);
        assert_eq!(v.error, None);
        assert_eq!(v.import.state, Track::Pending);
        assert_eq!(v.tape.state, Track::Succeeded, "a finished tape copy stays");
        assert_eq!(v.export.state, Track::Succeeded);
    }

    #[test]
    fn an_abort_that_ends_synced_stops_the_rounds_and_a_retry_does_not() {
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Synced);
        v.aborting = true;
        v.set_phase(Phase::Synced);
        assert!(v.rounds_stopped && !v.abortable() && v.can_cut_over());
        v.set_phase(Phase::CuttingOver);
        assert!(!v.rounds_stopped);
        // Mid-round: the abort lands as `Aborted`; a retry comes back synced with a task.
        v.set_phase(Phase::Syncing);
        v.aborting = true;
        v.set_phase(Phase::Aborted);
        v.set_phase(Phase::Synced);
        assert!(!v.rounds_stopped && v.abortable());
    }

    #[test]
    fn an_aborting_volume_takes_no_cutover_until_its_round_ends_synced() {
        let mut v = VolumeProgress::new("v", "data", 1);
        v.set_phase(Phase::Synced);
        assert!(v.can_cut_over());
        v.set_phase(Phase::Syncing);
        v.aborting = true;
        assert!(!v.can_cut_over(), "the abort ends the task that would take the ask");
        // The round ended verified before the abort reached it: nothing left to stop.
        v.set_phase(Phase::Synced);
        assert!(!v.aborting && v.can_cut_over());
    }
}

//! A warm-synced volume's rounds as the dashboard sees them, folded from
//! `EngineEvent::SyncRound`: the last verified round, what it changed and
//! what a cutover now would take, and each round's changed bytes for the
//! sparkline.

use std::collections::VecDeque;

/// Rounds kept for the sparkline: more than any pane is wide.
const KEPT: usize = 120;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncRounds {
    /// (round, changed bytes), oldest first.
    rounds: VecDeque<(u32, u64)>,
    /// The engine's estimate of a cutover now, in seconds.
    pub projected_cutover_s: f64,
    /// The final round is verified: what is left is the finish and tape.
    pub cut_over: bool,
}

impl SyncRounds {
    pub fn add(&mut self, round: u32, bytes: u64, projected_cutover_s: f64, last: bool) {
        // A round can be reported again after a resume: the newest word counts.
        self.rounds.retain(|(r, _)| *r < round);
        if self.rounds.len() == KEPT {
            self.rounds.pop_front();
        }
        self.rounds.push_back((round, bytes));
        self.projected_cutover_s = projected_cutover_s;
        self.cut_over |= last;
    }

    /// The last verified round and what it changed.
    pub fn last(&self) -> Option<(u32, u64)> {
        self.rounds.back().copied()
    }

    /// Changed bytes of each round after the first (the full copy would
    /// flatten the rest), oldest first.
    pub fn deltas(&self) -> Vec<u64> {
        self.rounds.iter().filter(|(r, _)| *r > 1).map(|(_, b)| *b).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_keep_their_order_and_the_full_copy_stays_out_of_the_deltas() {
        let mut s = SyncRounds::default();
        assert_eq!(s.last(), None);
        s.add(1, 48 << 20, 6.0, false);
        s.add(2, 3 << 20, 0.6, false);
        s.add(3, 1 << 20, 0.3, false);
        assert_eq!(s.last(), Some((3, 1 << 20)));
        assert_eq!(s.deltas(), vec![3 << 20, 1 << 20]);
        s.add(3, 2 << 20, 0.4, false);
        assert_eq!(
            s.deltas(),
            vec![3 << 20, 2 << 20],
            "a repeated round replaces the old one"
        );
        assert!(!s.cut_over);
        s.add(4, 4096, 0.1, true);
        assert!(s.cut_over && s.projected_cutover_s == 0.1);
    }
}

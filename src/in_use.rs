//! Which copy each selected volume gets: one rule for every client (headless
//! `migrate`, the TUI, the demo). A volume a running server may write to
//! ([`VolumeRow::live_writer`]) is warm-synced unless the operator chose one
//! crash-consistent snapshot; every other volume is copied cold, in one pass.

use crate::engine::{CopyMode, VolumeRow};
use std::collections::HashMap;

/// What becomes of a volume a running server may write to (`--in-use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InUse {
    /// Warm sync in rounds; migrated only after a cutover.
    #[default]
    Sync,
    /// One crash-consistent pass, reported as such (later writes not copied).
    Snapshot,
}

impl InUse {
    /// `--in-use`'s value (`sync` or `snapshot`; anything else: `sync`, the safe one).
    pub fn from_flag(value: &str) -> Self {
        match value {
            "snapshot" => InUse::Snapshot,
            _ => InUse::Sync,
        }
    }

    /// Each volume's copy mode, by id; a volume left out is copied cold.
    /// `sync_all` warm-syncs every volume (`migrate --sync`).
    pub fn copy_modes<'a>(
        self,
        rows: impl IntoIterator<Item = &'a VolumeRow>,
        sync_all: bool,
    ) -> HashMap<String, CopyMode> {
        rows.into_iter()
            .filter_map(|r| {
                let mode = match (sync_all, r.live_writer(), self) {
                    (true, ..) => CopyMode::Sync,
                    (false, Some(_), InUse::Snapshot) => CopyMode::CrashConsistent,
                    (false, Some(_), InUse::Sync) => CopyMode::Sync,
                    (false, None, _) => return None,
                };
                Some((r.volume.id.clone(), mode))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::AttachedServer;

    fn row(id: &str, status: &str, servers: &[(&str, Option<&str>)]) -> VolumeRow {
        VolumeRow {
            volume: serde_json::from_value(serde_json::json!({"id": id, "size": 1, "status": status})).expect("volume"),
            servers: servers
                .iter()
                .map(|(name, status)| AttachedServer {
                    id: format!("srv-{name}"),
                    name: name.to_string(),
                    status: status.map(str::to_string),
                })
                .collect(),
        }
    }

    #[test]
    fn running_servers_mean_warm_sync_stopped_ones_and_detached_mean_cold() {
        let rows = [
            row("active", "in-use", &[("db-1", Some("ACTIVE"))]),
            row("stopped", "in-use", &[("gpu-1", Some("SHUTOFF"))]),
            row("unknown", "in-use", &[("x", None)]),
            row("nameless", "in-use", &[]),
            row("detached", "available", &[]),
        ];
        let modes = InUse::Sync.copy_modes(&rows, false);
        let mode = |id: &str| modes.get(id).copied();
        assert_eq!(mode("active"), Some(CopyMode::Sync));
        assert_eq!(mode("unknown"), Some(CopyMode::Sync), "an unknown status may write");
        assert_eq!(mode("nameless"), Some(CopyMode::Sync), "in-use with no server named");
        assert_eq!((mode("stopped"), mode("detached")), (None, None));
        let snap = InUse::from_flag("snapshot").copy_modes(&rows, false);
        assert_eq!(snap.get("active"), Some(&CopyMode::CrashConsistent));
        assert!(!snap.contains_key("detached"));
        let all = InUse::Snapshot.copy_modes(&rows, true);
        assert!(all.values().all(|m| *m == CopyMode::Sync) && all.len() == rows.len());
    }
}

//! Which copy each selected volume gets: one rule for every client (headless
//! `migrate`, the TUI, the demo). A volume a running server may write to
//! ([`VolumeRow::live_writer`]) is warm-synced unless the operator chose one
//! crash-consistent snapshot; every other volume is copied cold, in one pass.

use crate::check_line::CheckLine;
use crate::engine::{CopyMode, VolumeRow};
use crate::escaped::Escaped;
use crate::openstack::Volume;
use std::collections::HashMap;

/// Warm sync patches the export file round after round, so a run that keeps
/// none (`export_dir: null`, `--no-export-file`) cannot start it: pre-flight's
/// ✘ line naming the volumes that would, and the ways out. `begun`: volumes
/// the journal has a copy of (an export, rounds, a verified copy), which go
/// on from what it recorded. `None` when the run keeps the file or starts no
/// warm sync.
pub fn sync_without_export_file<'a>(
    keeps_file: bool,
    modes: &HashMap<String, CopyMode>,
    volumes: impl IntoIterator<Item = &'a Volume>,
    begun: &[String],
) -> Option<CheckLine> {
    if keeps_file {
        return None;
    }
    let names: Vec<String> = volumes
        .into_iter()
        .filter(|v| modes.get(&v.id) == Some(&CopyMode::Sync) && !begun.contains(&v.id))
        .map(|v| format!("{} ({})", Escaped(v.display_name()), v.id))
        .collect();
    (!names.is_empty()).then(|| {
        CheckLine::new(
            false,
            format!(
                "warm sync patches the export file each round, and this run keeps none (export_dir is null, or --no-export-file): {} would be warm-synced; set export_dir, or stop their servers, or leave them out (`migrate --in-use snapshot` copies them crash-consistent instead)",
                names.join(", ")
            ),
        )
    })
}

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

    /// A run that keeps no export file cannot warm-sync: pre-flight fails,
    /// naming the volumes that would be synced and no other.
    #[test]
    fn warm_sync_without_an_export_file_fails_pre_flight() {
        let rows = [
            row("active", "in-use", &[("db-1", Some("ACTIVE"))]),
            row("detached", "available", &[]),
        ];
        let modes = InUse::Sync.copy_modes(&rows, false);
        let volumes = || rows.iter().map(|r| &r.volume);
        assert_eq!(sync_without_export_file(true, &modes, volumes(), &[]), None);
        let line = sync_without_export_file(false, &modes, volumes(), &[]).expect("a failed check");
        assert!(!line.ok);
        assert!(
            line.text
                .contains(": active (active) would be warm-synced; set export_dir"),
            "{}",
            line.text
        );
        assert!(!line.text.contains("detached"), "{}", line.text);
        let snapshot = InUse::Snapshot.copy_modes(&rows, false);
        assert_eq!(sync_without_export_file(false, &snapshot, volumes(), &[]), None);
        // A copy the journal has begun goes on from it (a verified one is not synced).
        let begun = ["active".to_string()];
        assert_eq!(sync_without_export_file(false, &modes, volumes(), &begun), None);
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

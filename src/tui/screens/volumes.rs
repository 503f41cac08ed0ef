//! Volumes: one project's volumes with tick boxes. What can be ticked, the
//! selection's totals, and whether the new cloud's quota and the export dir
//! can take it. An unfinished earlier run's volumes arrive ticked (resume).

use crate::engine::{Phase, VolumeRow};
use crate::openstack::{Project, Volume, VolumeQuota};
use crate::tui::filter::Filter;
use crate::tui::scroll::{step, Scroll};
use std::collections::BTreeSet;

/// A volume as listed, with what an earlier run's journal knows of it.
#[derive(Debug, Clone)]
pub struct VolumeEntry {
    pub row: VolumeRow,
    /// Bytes of data, known once an export measured it.
    pub used: Option<u64>,
    /// Its phase in an earlier run's journal.
    pub previous: Option<Phase>,
}

impl VolumeEntry {
    pub fn volume(&self) -> &Volume {
        &self.row.volume
    }

    pub fn migratable(&self) -> bool {
        self.row.migratable()
    }

    /// An earlier run started it and did not finish it.
    pub fn unfinished(&self) -> bool {
        self.previous.is_some_and(|p| p != Phase::Cleaned)
    }
}

/// The new cloud's room and the export dir's, for the footer.
#[derive(Debug, Clone)]
pub struct TargetInfo {
    pub quota: Result<VolumeQuota, String>,
    pub export_free: Result<u64, String>,
}

#[derive(Debug, Default, Clone)]
pub struct VolumesScreen {
    pub project: Option<Project>,
    pub rows: Vec<VolumeEntry>,
    pub loading: bool,
    pub error: Option<String>,
    pub filter: Filter,
    pub visible: Vec<usize>,
    pub cursor: usize,
    pub scroll: Scroll,
    pub selected: BTreeSet<String>,
    pub target: Option<TargetInfo>,
    /// Exports in flight at once: the export dir must hold that many.
    pub exports_in_flight: usize,
}

impl VolumesScreen {
    pub fn open(&mut self, project: Project, exports_in_flight: usize) {
        *self = Self {
            project: Some(project),
            loading: true,
            exports_in_flight,
            target: self.target.take(),
            ..Self::default()
        };
    }

    /// Sets the rows; returns how many unfinished volumes were ticked to resume.
    pub fn set(&mut self, result: Result<Vec<VolumeEntry>, String>) -> usize {
        self.loading = false;
        match result {
            Ok(rows) => {
                self.rows = rows;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        let ids: BTreeSet<&str> = self.rows.iter().map(|r| r.volume().id.as_str()).collect();
        self.selected.retain(|id| ids.contains(id.as_str()));
        let resume: Vec<String> = self
            .rows
            .iter()
            .filter(|r| r.unfinished() && r.migratable())
            .map(|r| r.volume().id.clone())
            .collect();
        let n = resume.len();
        self.selected.extend(resume);
        self.refilter();
        n
    }

    pub fn refilter(&mut self) {
        let f = &self.filter;
        self.visible = (0..self.rows.len())
            .filter(|i| {
                let r = &self.rows[*i];
                let v = r.volume();
                // Servers and their statuses: `/shutoff` finds the stopped ones.
                let attached = r.row.attachment_text();
                f.matches([
                    v.display_name(),
                    v.id.as_str(),
                    v.status.as_str(),
                    v.volume_type.as_deref().unwrap_or(""),
                    attached.as_str(),
                ])
            })
            .collect();
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    pub fn move_by(&mut self, delta: isize) {
        self.cursor = step(self.cursor, self.visible.len(), delta);
    }

    pub fn current(&self) -> Option<&VolumeEntry> {
        self.visible.get(self.cursor).map(|i| &self.rows[*i])
    }

    /// Ticks or unticks the row under the cursor; `Err` names why it cannot be ticked.
    pub fn toggle(&mut self) -> Result<(), String> {
        let Some(r) = self.current() else { return Ok(()) };
        let (id, migratable) = (r.volume().id.clone(), r.migratable());
        let why = format!(
            "{} is {}: only available or in-use volumes can be migrated",
            crate::escaped::Escaped(r.volume().display_name()),
            crate::escaped::Escaped(&r.volume().status)
        );
        if !self.selected.remove(&id) {
            if !migratable {
                return Err(why);
            }
            self.selected.insert(id);
        }
        Ok(())
    }

    /// Ticks every migratable volume the filter shows.
    pub fn select_all(&mut self) {
        for i in &self.visible {
            let r = &self.rows[*i];
            if r.migratable() {
                self.selected.insert(r.volume().id.clone());
            }
        }
    }

    pub fn select_none(&mut self) {
        self.selected.clear();
    }

    fn ticked(&self) -> impl Iterator<Item = &VolumeEntry> {
        self.rows.iter().filter(|r| self.selected.contains(&r.volume().id))
    }

    pub fn chosen(&self) -> Vec<VolumeEntry> {
        self.ticked().cloned().collect()
    }

    pub fn selected_gib(&self) -> u64 {
        self.ticked().map(|r| r.volume().size).sum()
    }

    /// Room the export dir needs: the largest `exports_in_flight` selected
    /// volumes (data is usually less, so this errs on the safe side).
    pub fn export_need(&self) -> u64 {
        let mut sizes: Vec<u64> = self.ticked().map(|r| r.used.unwrap_or(r.volume().size << 30)).collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.iter().take(self.exports_in_flight.max(1)).sum()
    }

    /// True when the new cloud's quota cannot take the selection.
    pub fn quota_short(&self) -> bool {
        let Some(Ok(q)) = self.target.as_ref().map(|t| &t.quota) else {
            return false;
        };
        let n = self.selected.len() as i64;
        q.volumes.free().is_some_and(|f| f < n) || q.gigabytes.free().is_some_and(|f| f < self.selected_gib() as i64)
    }

    pub fn space_short(&self) -> bool {
        matches!(self.target.as_ref().map(|t| &t.export_free), Some(Ok(free)) if *free < self.export_need())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, status: &str, size: u64, previous: Option<Phase>) -> VolumeEntry {
        let volume: Volume = serde_json::from_value(serde_json::json!({
            "id": id, "name": format!("vol-{id}"), "size": size, "status": status
        }))
        .expect("volume");
        VolumeEntry {
            row: VolumeRow {
                volume,
                servers: vec![],
            },
            used: None,
            previous,
        }
    }

    #[test]
    fn only_migratable_volumes_tick_and_all_respects_the_filter() {
        let mut s = VolumesScreen::default();
        s.set(Ok(vec![
            entry("a", "available", 1, None),
            entry("b", "error", 2, None),
            entry("c", "in-use", 3, None),
        ]));
        s.move_by(1);
        assert!(s.toggle().expect_err("error status").contains("vol-b is error"));
        s.select_all();
        assert_eq!(s.selected.len(), 2);
        assert_eq!(s.selected_gib(), 4);
        s.select_none();
        assert!(s.selected.is_empty());
    }

    #[test]
    fn unfinished_volumes_of_an_earlier_run_arrive_ticked() {
        let mut s = VolumesScreen::default();
        let n = s.set(Ok(vec![
            entry("a", "available", 1, Some(Phase::Failed)),
            entry("b", "available", 1, Some(Phase::Cleaned)),
            entry("c", "available", 1, None),
            // Planned by a run stopped before it started.
            entry("d", "available", 1, Some(Phase::Queued)),
        ]));
        assert_eq!(n, 2);
        assert!(s.selected.contains("a") && s.selected.contains("d"));
    }

    #[test]
    fn quota_and_space_shortage() {
        let mut s = VolumesScreen {
            exports_in_flight: 1,
            ..Default::default()
        };
        s.set(Ok(vec![
            entry("a", "available", 2, None),
            entry("b", "available", 3, None),
        ]));
        s.select_all();
        let item = |limit, in_use| crate::openstack::QuotaItem {
            limit,
            in_use,
            reserved: 0,
        };
        s.target = Some(TargetInfo {
            quota: Ok(VolumeQuota {
                volumes: item(10, 0),
                gigabytes: item(10, 6),
            }),
            export_free: Ok(2 << 30),
        });
        assert!(s.quota_short(), "5 GiB wanted, 4 free");
        assert!(s.space_short(), "the largest volume (3 GiB) does not fit in 2 GiB");
    }
}

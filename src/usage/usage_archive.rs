//! Phase 4: the project's usage history saved before the old cloud goes.
//! One whole-period query (`total.json`), the all-tenants list
//! (`global.json`), then month by month (`YYYY-MM.json`, `monthly.csv`), the
//! months queried concurrently under a limit but delivered in order. Each
//! run writes a fresh directory that `usage/latest` then names (`ArchiveDir`).

use super::archive_dir::{sums_match_on_disk, ArchiveDir};
use super::month_range::{months, Month};
use super::usage_event::UsageEvent;
use super::usage_period::CheckedPeriod;
use crate::openstack::{nova_time, Nova, OpenStackError, Session, TenantUsage, COMPUTE_MICROVERSION};
use crate::storage::private_fs::write_atomic;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc::Sender;

/// One month's totals, as sent to clients and written to the CSV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthTotals {
    pub month: String,
    pub start: String,
    pub end: String,
    pub total_hours: f64,
    pub total_vcpus_usage: f64,
    pub total_memory_mb_usage: f64,
    pub total_local_gb_usage: f64,
    pub servers: usize,
}

impl MonthTotals {
    fn new(m: &Month, u: &TenantUsage) -> Self {
        Self {
            month: m.label(),
            start: nova_time(&m.start),
            end: nova_time(&m.end),
            total_hours: u.total_hours,
            total_vcpus_usage: u.total_vcpus_usage,
            total_memory_mb_usage: u.total_memory_mb_usage,
            total_local_gb_usage: u.total_local_gb_usage,
            servers: u.server_usages.len(),
        }
    }
}

/// The next step for the Nova answers an operator can act on.
fn api_hint(e: &OpenStackError) -> &'static str {
    match e.status() {
        Some(401 | 403) => "; the usage of a project needs the admin role, or a token scoped to that project (os_compute_api:os-simple-tenant-usage:show); run `stackmigrate usage` with such credentials",
        Some(400) => "; Nova refused the period: check --start and --end (or `usage` in the config), UTC, start before end",
        _ => "",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("usage {what}: {source}{}", api_hint(source))]
    Api {
        what: String,
        #[source]
        source: Box<OpenStackError>,
    },
    #[error("{}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{}: cannot read back: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}: another stackmigrate is archiving this project's usage; wait for it to finish or stop it, then run again", path.display())]
    Busy { path: PathBuf },
}

/// What the archive produced.
#[derive(Debug, Clone, Serialize)]
pub struct UsageSummary {
    /// This run's archive, `<usage root>/<start>_<end>` (also `<usage root>/latest`).
    pub dir: String,
    pub total: MonthTotals,
    pub months: Vec<MonthTotals>,
    /// The month files in `dir` add up to its total.json, read back from disk.
    pub sums_match: bool,
    /// Why `global.json` is missing, if it is (a member gets a 403).
    pub global_note: Option<String>,
    /// Where an earlier, fuller archive of the same period was kept, if one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earlier_kept: Option<String>,
}

pub struct UsageArchive<'a> {
    pub session: &'a Session,
    pub project_id: &'a str,
    /// `<project dir>/usage`: the root that holds one directory per run.
    pub dir: &'a Path,
    pub concurrency: usize,
    /// Page size for Nova (None: Nova's default).
    pub limit: Option<u32>,
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), UsageError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| UsageError::Write {
        path: path.into(),
        source: std::io::Error::other(e),
    })?;
    write_atomic(path, &text).map_err(|(path, source)| UsageError::Write { path, source })
}

impl UsageArchive<'_> {
    pub async fn run(
        &self,
        period: &CheckedPeriod,
        events: Option<&Sender<UsageEvent>>,
    ) -> Result<UsageSummary, UsageError> {
        let mut archive = ArchiveDir::new(self.dir, period);
        let dir = archive.begin()?;
        let nova = Nova::new(self.session);
        let api = |what: &str| {
            let what = what.to_string();
            move |source| UsageError::Api {
                what,
                source: Box::new(source),
            }
        };
        let query = json!({ "microversion": COMPUTE_MICROVERSION, "detailed": 1, "start": nova_time(&period.start), "end": nova_time(&period.end), "note": period.note });
        let total = nova
            .usage_show(self.project_id, &period.start, &period.end, self.limit)
            .await
            .map_err(api("whole period"))?;
        write_json(
            &dir.join("total.json"),
            &json!({ "query": query, "tenant_usage": total }),
        )?;

        let global_note = match nova.usage_list(&period.start, &period.end, self.limit).await {
            Ok(all) => {
                write_json(&dir.join("global.json"), &json!({ "query": query, "tenant_usages": all }))?;
                None
            }
            Err(e) if e.status() == Some(403) => Some(format!(
                "global.json not written: the all-tenants usage list needs the admin role ({e}); run `stackmigrate usage` with admin credentials to archive it"
            )),
            Err(e) => return Err(api("all tenants")(e)),
        };
        if let (Some(note), Some(tx)) = (&global_note, events) {
            let _ = tx.send(UsageEvent::Note(note.clone())).await;
        }

        let ms = months(period.start, period.end);
        let mut results = stream::iter(ms.iter().copied())
            .map(|m| {
                let nova = Nova::new(self.session);
                async move { (m, nova.usage_show(self.project_id, &m.start, &m.end, self.limit).await) }
            })
            // `buffered` runs up to N at once and yields in order.
            .buffered(self.concurrency.max(1));
        let mut rows = Vec::new();
        while let Some((m, r)) = results.next().await {
            let usage = r.map_err(api(&m.label()))?;
            write_json(
                &dir.join(format!("{}.json", m.label())),
                &json!({ "month": m.label(), "start": nova_time(&m.start), "end": nova_time(&m.end), "tenant_usage": usage }),
            )?;
            let row = MonthTotals::new(&m, &usage);
            if let Some(tx) = events {
                let _ = tx.send(UsageEvent::Month(row.clone())).await;
            }
            rows.push(row);
        }
        let whole = Month {
            year: 0,
            month: 0,
            start: period.start,
            end: period.end,
        };
        let mut total_row = MonthTotals::new(&whole, &total);
        total_row.month = "total".into();
        // Read back from disk: these files become the published archive by a rename.
        let sums_match = sums_match_on_disk(&dir)?;
        write_atomic(&dir.join("monthly.csv"), &csv(&rows, &total_row, sums_match))
            .map_err(|(path, source)| UsageError::Write { path, source })?;
        let (done, kept_note) = archive.publish()?;
        if let Some(note) = &kept_note {
            tracing::warn!("{note}");
            if let Some(tx) = events {
                let _ = tx.send(UsageEvent::Note(note.clone())).await;
            }
        }
        Ok(UsageSummary {
            dir: done.display().to_string(),
            total: total_row,
            months: rows,
            sums_match,
            global_note,
            earlier_kept: kept_note,
        })
    }
}

fn csv(rows: &[MonthTotals], total: &MonthTotals, sums_match: bool) -> String {
    let mut out = String::from(
        "month,start,end,total_hours,total_vcpus_usage,total_memory_mb_usage,total_local_gb_usage,servers\n",
    );
    let line = |r: &MonthTotals| {
        format!(
            "{},{},{},{},{},{},{},{}\n",
            r.month,
            r.start,
            r.end,
            r.total_hours,
            r.total_vcpus_usage,
            r.total_memory_mb_usage,
            r.total_local_gb_usage,
            r.servers
        )
    };
    rows.iter().for_each(|r| out.push_str(&line(r)));
    out.push_str(&line(total));
    out.push_str(&format!(
        "check,{},{},sum of months {} the whole-period total,,,,\n",
        total.start,
        total.end,
        if sums_match { "equals" } else { "DOES NOT equal" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openstack::ApiError;

    fn api(status: u16) -> UsageError {
        UsageError::Api {
            what: "2025-03".into(),
            source: Box::new(OpenStackError::Api(Box::new(ApiError {
                status,
                request_id: None,
                kind: Some("forbidden".into()),
                message: "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show".into(),
                request: "GET http://127.0.0.1:8774/v2.1/os-simple-tenant-usage/p".into(),
            }))),
        }
    }

    #[test]
    fn a_refused_usage_query_says_what_to_do_next() {
        let e = api(403).to_string();
        assert!(e.contains("usage 2025-03") && e.contains("needs the admin role"), "{e}");
        assert!(api(400).to_string().contains("check --start and --end"));
        assert!(!api(500).to_string().contains("; "), "no hint for a server fault");
    }
}

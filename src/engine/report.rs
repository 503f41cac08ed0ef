//! `report.json` and `report.md` in the project folder: per volume old → new
//! id, name, size, used bytes, checksum, stage durations, throughput, tape
//! result, final state and error; then totals.

use super::migration::Plan;
use super::{Journal, Phase, Summary, Track, VolumeRecord};
use crate::escaped::markdown_cell;
use crate::storage::private_fs::write_atomic;
use crate::storage::sparse_hash;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Serialize)]
struct Row<'a> {
    old_id: &'a str,
    new_id: Option<&'a str>,
    /// A new volume made for the copy and not verified (yet): where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    new_id_unverified: Option<&'a str>,
    name: &'a str,
    size_gib: u64,
    used_bytes: Option<u64>,
    checksum: Option<&'a str>,
    checksum_algorithm: &'static str,
    seconds: &'a std::collections::BTreeMap<String, f64>,
    throughput_mib_s: Option<f64>,
    tape: &'a Track,
    /// The drive of `tape.drives` the tape copy went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    tape_drive: Option<&'a str>,
    state: Phase,
    attempts: u32,
    error: Option<String>,
    /// The point in time the copy represents, in words.
    point_in_time: Option<String>,
    /// A warm sync: rounds verified, and why a cutover was refused.
    sync_rounds: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    cutover_refused: Option<&'a str>,
    /// Cut over, but warm-sync snapshots (either side's) could not be removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    snapshots_left: Option<&'a str>,
    /// Copied in one pass while a server could write (`--in-use=snapshot`).
    crash_consistent: bool,
    /// Cut over with `--force-cutover` while a server could write.
    forced_cutover: bool,
    /// Copied with no export file (`export_dir: null`): nothing to remove.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_export_file: bool,
}

/// Which moment of the source a record's copy holds, for the operator.
fn point_in_time(r: &VolumeRecord) -> Option<String> {
    let at = r
        .export
        .as_ref()?
        .taken_at
        .clone()
        .unwrap_or_else(|| "an unrecorded time".into());
    let Some(sync) = &r.sync else {
        return Some(match r.export.as_ref() {
            Some(e) if e.live => format!("crash-consistent at {at}, later writes not copied"),
            Some(e) if e.locked => format!(
                "{at} (read under the source's exclusive lock, taken just after: no write landed during the read)"
            ),
            _ => format!("{at} (source not written by a running server)"),
        });
    };
    let last = sync.last()?;
    Some(match (sync.final_round, sync.forced) {
        (true, false) => format!("{} (final round {}, source stopped or detached)", last.at, last.round),
        (true, true) => format!(
            "{} (FORCED cutover, round {}): writes after it not copied",
            last.at, last.round
        ),
        (false, _) => format!(
            "{} (round {}); the source is still written: not migrated until cutover",
            last.at, last.round
        ),
    })
}

fn row<'a>(vol: &'a crate::openstack::Volume, r: Option<&'a VolumeRecord>) -> Row<'a> {
    static EMPTY: std::sync::OnceLock<std::collections::BTreeMap<String, f64>> = std::sync::OnceLock::new();
    let used = r.and_then(|r| r.export.as_ref()).map(|e| e.data_bytes);
    let copy_secs: f64 = r
        .map(|r| ["export", "import"].iter().filter_map(|s| r.seconds.get(*s)).sum())
        .unwrap_or(0.0);
    Row {
        old_id: &vol.id,
        new_id: r.and_then(|r| r.new_id.as_deref()),
        new_id_unverified: r.filter(|r| r.new_id.is_none()).and_then(|r| {
            let synced = r.sync.as_ref().and_then(|s| s.new_id.as_deref());
            synced.or(r.created.last().map(String::as_str))
        }),
        name: vol.display_name(),
        size_gib: vol.size,
        used_bytes: used,
        // The digest, and the scheme it was made with (earlier journals: v1).
        checksum: r.and_then(|r| r.verified_hash.as_deref()).map(sparse_hash::digest),
        checksum_algorithm: r
            .and_then(|r| r.verified_hash.as_deref())
            .and_then(sparse_hash::Scheme::of)
            .unwrap_or(sparse_hash::Scheme::CURRENT)
            .name(),
        seconds: r
            .map(|r| &r.seconds)
            .unwrap_or_else(|| EMPTY.get_or_init(Default::default)),
        throughput_mib_s: used
            .filter(|_| copy_secs > 0.0)
            .map(|u| u as f64 / (1u64 << 20) as f64 / copy_secs),
        tape: r.map(|r| &r.tape).unwrap_or(&Track::Pending),
        tape_drive: r.and_then(|r| r.tape_drive.as_deref()),
        state: r.map_or(Phase::Queued, |r| r.phase),
        attempts: r.map_or(0, |r| r.attempt),
        error: r.and_then(|r| r.error.as_ref()).map(|(s, e)| format!("{s}: {e}")),
        point_in_time: r.and_then(point_in_time),
        sync_rounds: r.and_then(|r| r.sync.as_ref()).map_or(0, |s| s.rounds.len()),
        cutover_refused: r.and_then(|r| r.sync.as_ref()).and_then(|s| s.refused.as_deref()),
        snapshots_left: r.and_then(|r| r.sync.as_ref()).and_then(|s| s.leftover.as_deref()),
        crash_consistent: r.is_some_and(|r| r.sync.is_none() && r.export.as_ref().is_some_and(|e| e.live)),
        // A forced cutover that failed, or has yet to finish its round, copied nothing final.
        forced_cutover: r
            .and_then(|r| r.sync.as_ref())
            .is_some_and(|s| s.forced && s.final_round),
        no_export_file: r.and_then(|r| r.export.as_ref()).is_some_and(|e| e.no_file),
    }
}

/// Writes both reports (atomically) and returns the totals.
pub(super) fn write_report(plan: &Plan, journal: &Journal) -> Result<Summary, (PathBuf, std::io::Error)> {
    let rows: Vec<Row> = plan.volumes.iter().map(|v| row(v, journal.get(&v.id))).collect();
    let earlier_volumes = earlier(plan, journal);
    let earlier: Vec<Row> = earlier_volumes.iter().map(|v| row(v, journal.get(&v.id))).collect();
    let count = |f: &dyn Fn(Phase) -> bool| rows.iter().filter(|r| f(r.state)).count();
    let json_path = plan.project_dir.join("report.json");
    let md_path = plan.project_dir.join("report.md");
    let summary = Summary {
        total: rows.len(),
        verified: count(&|p| matches!(p, Phase::Done | Phase::Cleaned | Phase::BackupFailed)),
        backup_failed: count(&|p| p == Phase::BackupFailed),
        failed: count(&|p| p == Phase::Failed),
        aborted: count(&|p| p == Phase::Aborted),
        not_started: count(&|p| p == Phase::Queued),
        synced: count(&|p| p == Phase::Synced),
        cutover_refused: rows.iter().filter(|r| r.cutover_refused.is_some()).count(),
        snapshots_left: rows.iter().filter(|r| r.snapshots_left.is_some()).count(),
        crash_consistent: rows.iter().filter(|r| r.crash_consistent || r.forced_cutover).count(),
        report_json: json_path.display().to_string(),
        report_md: md_path.display().to_string(),
    };
    let doc = serde_json::json!({
        "project": { "id": plan.project_id, "name": plan.project_name },
        "generated_at": chrono::Utc::now().to_rfc3339(),
        "volumes": rows,
        "totals": {
            "volumes": summary.total,
            "verified": summary.verified,
            "backup_failed": summary.backup_failed,
            "failed": summary.failed,
            "aborted": summary.aborted,
            "not_started": summary.not_started,
            "synced_waiting_for_cutover": summary.synced,
            "cutover_refused": summary.cutover_refused,
            "snapshots_left": summary.snapshots_left,
            "crash_consistent": summary.crash_consistent,
            "size_gib": rows.iter().map(|r| r.size_gib).sum::<u64>(),
            "used_bytes": rows.iter().filter_map(|r| r.used_bytes).sum::<u64>(),
        },
        "journal": journal.path().display().to_string(),
        // The project's other volumes, as earlier runs left them (not counted above).
        "earlier_runs": earlier,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| (json_path.clone(), std::io::Error::other(e)))?;
    write_atomic(&json_path, &text)?;
    let mut md = markdown(plan, &rows, &summary);
    if !earlier.is_empty() {
        md.push_str(&format!(
            "\n## Earlier runs\n\n{} other volume(s) of this project, as earlier runs left them (not counted above):\n\n",
            earlier.len()
        ));
        table(&mut md, &earlier);
    }
    write_atomic(&md_path, &md)?;
    Ok(summary)
}

/// The journal's volumes this run did not select, named as `inventory.json`
/// (this run's listing of the project) names them; a volume deleted since
/// from the old cloud keeps its id only.
fn earlier(plan: &Plan, journal: &Journal) -> Vec<crate::openstack::Volume> {
    let inventory: serde_json::Value = std::fs::read_to_string(plan.project_dir.join("inventory.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let listed = inventory["volumes"].as_array().cloned().unwrap_or_default();
    journal
        .records()
        .filter(|r| !plan.volumes.iter().any(|v| v.id == r.id))
        .filter_map(|r| {
            let found = listed.iter().find(|v| v["id"] == r.id.as_str()).cloned();
            let size = r.export.as_ref().map_or(0, |e| e.size >> 30);
            let fallback = serde_json::json!({"id": r.id, "size": size, "status": "unknown"});
            serde_json::from_value(found.unwrap_or(fallback)).ok()
        })
        .collect()
}

/// A volume's final state in words (report.json keeps the snake_case names).
fn state_text(p: Phase, no_export_file: bool) -> &'static str {
    match p {
        Phase::Cleaned if no_export_file => "done, no export file kept",
        Phase::Queued => "not started",
        Phase::Exporting => "exporting",
        Phase::Exported => "exported",
        Phase::Transferring => "transferring",
        Phase::Done => "done",
        Phase::BackupFailed => "verified, no tape copy",
        Phase::Failed => "failed",
        Phase::Aborted => "aborted",
        Phase::Cleaned => "done, export removed",
        Phase::Syncing => "syncing",
        Phase::Synced => "synced, waiting for cutover",
        Phase::CuttingOver => "cutting over",
    }
}

fn tape_text(t: &Track) -> &'static str {
    match t {
        Track::Pending => "pending",
        Track::Running => "running",
        Track::Succeeded => "copied",
        Track::Failed => "failed",
        Track::Disabled => "off",
    }
}

fn markdown(plan: &Plan, rows: &[Row], s: &Summary) -> String {
    let mut md = format!(
        "# stackmigrate report: {} ({})\n\n{} volume{}: {} verified ({} with a tape copy owed), {} failed, {} aborted.\n\n",
        markdown_cell(&plan.project_name),
        plan.project_id,
        s.total,
        if s.total == 1 { "" } else { "s" },
        s.verified,
        s.backup_failed,
        s.failed,
        s.aborted
    );
    if s.not_started > 0 {
        md.push_str(&format!(
            "{} volume(s) not started: the run was stopped first; run the migration again to copy them.\n\n",
            s.not_started
        ));
    }
    if s.synced > 0 {
        md.push_str(&format!(
            "{} warm-synced volume(s) wait for cutover ({} refused): they are NOT migrated yet.\n\n",
            s.synced, s.cutover_refused
        ));
    }
    if s.snapshots_left > 0 {
        md.push_str(&format!(
            "{} cut-over volume(s) still have warm-sync snapshots on the new image: Cinder cannot delete them until they go; run the migration again.\n\n",
            s.snapshots_left
        ));
    }
    if s.crash_consistent > 0 {
        md.push_str(&format!(
            "{} volume(s) were copied while a server could write: crash-consistent only, later writes NOT copied.\n\n",
            s.crash_consistent
        ));
    }
    table(&mut md, rows);
    md
}

/// The volumes' table.
fn table(md: &mut String, rows: &[Row]) {
    md.push_str("| old id | new id | name | GiB | used MiB | state | tape | MiB/s | checksum | point in time | error |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.old_id,
            match (r.new_id, r.new_id_unverified) {
                (Some(id), _) => id.to_string(),
                (None, Some(id)) => format!("{id} (not verified)"),
                (None, None) => "-".into(),
            },
            markdown_cell(r.name),
            r.size_gib,
            r.used_bytes
                .map_or("-".into(), |u| format!("{:.1}", u as f64 / (1u64 << 20) as f64)),
            state_text(r.state, r.no_export_file),
            match r.tape_drive {
                Some(d) if *r.tape == Track::Succeeded => format!("copied on {}", markdown_cell(d)),
                _ => tape_text(r.tape).to_string(),
            },
            r.throughput_mib_s.map_or("-".into(), |t| format!("{t:.0}")),
            r.checksum.unwrap_or("-"),
            markdown_cell(r.point_in_time.as_deref().unwrap_or("-")),
            markdown_cell(
                r.error
                    .as_deref()
                    .or(r.cutover_refused)
                    .or(r.snapshots_left)
                    .unwrap_or("")
            ),
        ));
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;

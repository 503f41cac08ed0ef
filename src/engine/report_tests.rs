//! The reports' rows, words and counts.
use super::*;

fn plan() -> Plan {
    Plan {
        project_id: "p1".into(),
        project_name: "research".into(),
        volumes: Vec::new(),
        project_dir: PathBuf::from("/nonexistent"),
        keep_exports: false,
        concurrency: Default::default(),
        stay_alive: false,
        sync: Default::default(),
        start_over: Default::default(),
    }
}

fn row_in(state: Phase, tape: &Track) -> Row<'_> {
    static SECONDS: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    Row {
        old_id: "v1",
        new_id: Some("n1"),
        new_id_unverified: None,
        name: "db",
        size_gib: 1,
        used_bytes: None,
        checksum: None,
        checksum_algorithm: "v2",
        seconds: &SECONDS,
        throughput_mib_s: None,
        tape,
        tape_drive: None,
        state,
        attempts: 1,
        error: None,
        point_in_time: None,
        sync_rounds: 0,
        cutover_refused: None,
        snapshots_left: None,
        crash_consistent: false,
        forced_cutover: false,
        no_export_file: false,
    }
}

fn summary(total: usize) -> Summary {
    Summary {
        total,
        verified: total,
        backup_failed: 0,
        failed: 0,
        aborted: 0,
        ..Summary::default()
    }
}

#[test]
fn markdown_words_states_for_people() {
    let failed = Track::Failed;
    let copied = Track::Succeeded;
    let rows = [row_in(Phase::BackupFailed, &failed), row_in(Phase::Cleaned, &copied)];
    let md = markdown(&plan(), &rows, &summary(2));
    for enum_name in ["BackupFailed", "Cleaned", "Succeeded", "| Failed |"] {
        assert!(!md.contains(enum_name), "{enum_name} in\n{md}");
    }
    assert!(md.contains("| verified, no tape copy | failed |"), "{md}");
    assert!(md.contains("| done, export removed | copied |"), "{md}");
    assert!(md.contains("2 volumes: 2 verified"), "{md}");
    let streamed = Row {
        no_export_file: true,
        ..row_in(Phase::Cleaned, &copied)
    };
    let md = markdown(&plan(), &[streamed], &summary(1));
    assert!(md.contains("| done, no export file kept | copied |"), "{md}");
}

#[test]
fn markdown_says_which_cut_over_volume_still_has_sync_snapshots() {
    let left = Row {
        snapshots_left: Some("cannot remove volume-n@stackmigrate-sync-2: busy"),
        ..row_in(Phase::Done, &Track::Disabled)
    };
    let s = Summary {
        snapshots_left: 1,
        ..summary(1)
    };
    let md = markdown(&plan(), &[left], &s);
    assert!(
        md.contains("1 cut-over volume(s) still have warm-sync snapshots"),
        "{md}"
    );
    assert!(
        md.contains("| cannot remove volume-n@stackmigrate-sync-2: busy |"),
        "{md}"
    );
}

#[test]
fn markdown_counts_one_volume_in_the_singular() {
    let md = markdown(&plan(), &[row_in(Phase::Done, &Track::Disabled)], &summary(1));
    assert!(md.contains("1 volume: 1 verified"), "{md}");
    assert!(md.contains("| done | off |"), "{md}");
}

#[test]
fn a_forced_cutover_that_failed_is_not_reported_as_a_forced_copy() {
    let vol: crate::openstack::Volume =
        serde_json::from_value(serde_json::json!({"id": "v", "size": 1, "status": "in-use"})).expect("volume");
    let mut rec = VolumeRecord::new("v");
    rec.phase = Phase::Synced;
    rec.sync = Some(crate::engine::SyncRecord {
        forced: true,
        ..Default::default()
    });
    assert!(!row(&vol, Some(&rec)).forced_cutover, "still syncing");
    if let Some(s) = rec.sync.as_mut() {
        s.final_round = true;
    }
    assert!(row(&vol, Some(&rec)).forced_cutover);
}

/// A stopped or failed run made a new volume: the report says where it is.
#[test]
fn a_new_volume_not_verified_is_named_as_such() {
    let vol: crate::openstack::Volume =
        serde_json::from_value(serde_json::json!({"id": "v", "size": 1, "status": "available"})).expect("volume");
    let mut rec = VolumeRecord::new("v");
    rec.phase = Phase::Aborted;
    rec.created = vec!["n1".into()];
    let r = row(&vol, Some(&rec));
    assert_eq!((r.new_id, r.new_id_unverified), (None, Some("n1")));
    let md = markdown(&plan(), &[r], &summary(1));
    assert!(md.contains("| v | n1 (not verified) |"), "{md}");
    rec.new_id = Some("n1".into());
    assert_eq!(row(&vol, Some(&rec)).new_id_unverified, None);
}

/// A run of some of the project's volumes reports them, and lists the others
/// as earlier runs left them, apart and not counted: the report stays the
/// project's, whichever volumes the last run chose.
#[test]
fn a_run_of_some_volumes_keeps_the_others_in_an_earlier_runs_section() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
    for id in ["a", "b"] {
        journal
            .record(id, crate::engine::Transition::ExportStarted)
            .expect("ok");
    }
    let inventory = serde_json::json!({"volumes": [
        {"id": "a", "name": "web", "size": 1, "status": "available"},
        {"id": "b", "name": "db-data", "size": 2, "status": "available"}
    ]});
    std::fs::write(dir.path().join("inventory.json"), inventory.to_string()).expect("inventory");
    let vol: crate::openstack::Volume =
        serde_json::from_value(serde_json::json!({"id": "a", "name": "web", "size": 1, "status": "available"}))
            .expect("volume");
    let plan = Plan {
        volumes: vec![vol],
        project_dir: dir.path().to_path_buf(),
        ..plan()
    };
    let summary = write_report(&plan, &journal).expect("report");
    assert_eq!(summary.total, 1, "only this run's volumes are counted");
    let md = std::fs::read_to_string(dir.path().join("report.md")).expect("md");
    let (this_run, earlier) = md.split_once("## Earlier runs").expect("an earlier-runs section");
    assert!(this_run.contains("| a |") && !this_run.contains("| b |"), "{md}");
    assert!(earlier.contains("| b |") && earlier.contains("db-data"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).expect("json")).expect("json");
    assert_eq!(json["volumes"].as_array().map(Vec::len), Some(1));
    assert_eq!(json["earlier_runs"][0]["name"], "db-data");
}

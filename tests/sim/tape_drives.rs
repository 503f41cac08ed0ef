//! `tape.drives` on the simulated clouds: each tape job holds a drive of
//! its own, named to its command as `{drive}`. A drive here is a lock file
//! that a second job on it at once finds taken (and fails loudly), as a
//! tape device refuses a second open.

use crate::demo_run::run_all;
use stackmigrate::config::TapeConfig;
use stackmigrate::engine::EngineEvent;
use std::collections::BTreeSet;

/// Runs the demo's volumes with two drives; `file`: with export files
/// (`{file}`), else streamed on stdin during the export.
async fn two_drives(file: bool) {
    let (dir, sim) = crate::demo_run::default_sim().await;
    let mut cfg = sim.config.clone();
    if !file {
        cfg.export_dir = None;
    }
    let drives: Vec<String> = ["nst0", "nst1"]
        .iter()
        .map(|d| dir.path().join(d).display().to_string())
        .collect();
    // The job's volume: its file (there, not read: the demo's exports are
    // 200 GiB of sparse files, and `cat` reads their holes; the job holds
    // its drive a second instead, so that jobs overlap), or the stream's
    // bytes on stdin.
    let (read, what) = match file {
        true => ("test -s \"$1\" && sleep 1", "{file}"),
        false => ("cat > /dev/null", "-"),
    };
    let script = format!(
        "exec 9>>\"$0\"; flock -n 9 || {{ echo \"drive $0 is busy\" >&2; exit 9; }}; sleep 0.2; {read}; echo \"$1\" >> \"$0.taped\""
    );
    cfg.tape = Some(TapeConfig {
        command: vec!["sh".into(), "-c".into(), script, "{drive}".into(), what.into()],
        drives: Some(drives.clone()),
    });
    cfg.concurrency.tapes = 1;
    let (events, total) = run_all(&cfg).await;
    let Some(EngineEvent::Finished(s)) = events.last() else {
        panic!("last event is Finished")
    };
    let said: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::VolumeFailed { error, .. } => Some(error.as_str()),
            EngineEvent::Log { line, .. } => Some(line.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!((s.verified, s.backup_failed, s.failed), (total, 0, 0), "{said:#?}");
    // Every job on a listed drive, named in the log; none on a drive another held.
    let on: Vec<&&str> = said.iter().filter(|l| l.contains("tape job on drive")).collect();
    assert_eq!(on.len(), total, "{said:#?}");
    assert!(
        on.iter().all(|l| drives.iter().any(|d| l.ends_with(d.as_str()))),
        "{on:#?}"
    );
    let taped: usize = drives
        .iter()
        .map(|d| {
            std::fs::read_to_string(format!("{d}.taped"))
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(taped, total, "each volume taped once, on one of the drives");
    let used: BTreeSet<&str> = on.iter().filter_map(|l| l.rsplit(' ').next()).collect();
    assert!(!used.is_empty() && used.len() <= 2, "{used:?}");
    // The report says which drive each volume's copy went to.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.report_json).expect("report")).expect("json");
    let rows = report["volumes"].as_array().expect("rows");
    assert_eq!(rows.len(), total);
    for row in rows {
        let drive = row["tape_drive"].as_str().unwrap_or_default();
        assert!(drives.iter().any(|d| d == drive), "{row}");
    }
    let md = std::fs::read_to_string(&s.report_md).expect("report.md");
    assert!(md.contains(&format!("copied on {}", drives[0])), "{md}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tape_job_holds_a_drive_of_its_own_with_export_files() {
    two_drives(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_streamed_tape_holds_a_drive_of_its_own() {
    two_drives(false).await;
}

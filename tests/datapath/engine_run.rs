//! Whole runs of `stackmigrate migrate` and of the engine API: pipelined
//! volumes, pre-flight, dry run, cleanup, reports, exit codes, abort and retry.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{run_migration, EngineCommand, EngineEvent, Phase, Plan, Stage};
use stackmigrate::storage::sparse_hash;

use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_runs_three_volumes_end_to_end_and_cleans_up() {
    let tb = Testbed::get();
    let a = source_volume(&tb, &unique("eng a"), 1, &[(0, noise(21, 8 << 20))], true).await;
    let b = source_volume(&tb, &unique("eng b"), 1, &[], false).await;
    let c = source_volume(&tb, &unique("eng c"), 2, &[(GIB + 17, noise(22, 3 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    let ids = format!("{},{},{}", a.id, b.id, c.id);

    let dry = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &ids,
            "--dry-run",
        ],
    );
    assert!(dry.status.success(), "{}{}", text(&dry.stdout), text(&dry.stderr));
    assert!(text(&dry.stdout).contains("✔ new-cloud quota"), "{}", text(&dry.stdout));
    assert!(copies_of(&tb, &a.id).await.is_empty(), "a dry run creates nothing");

    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &ids,
            "--yes",
            "--json",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    let events: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let finished = events
        .iter()
        .find(|e| e["event"] == "finished")
        .expect("finished event");
    assert_eq!(
        (finished["verified"].as_u64(), finished["total"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(events.iter().filter(|e| e["event"] == "cleanup_action").count(), 3);

    let project_dir = dir.path().join("work").join(tb.var("OLD_RESEARCH_ID"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project_dir.join("report.json")).expect("report")).expect("json");
    assert_eq!(report["totals"]["verified"], 3);
    assert!(std::fs::read_to_string(project_dir.join("report.md"))
        .expect("md")
        .contains(&a.id));
    let inventory: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project_dir.join("inventory.json")).expect("inventory"))
            .expect("json");
    assert!(inventory["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .any(|v| v["id"] == a.id.as_str()));
    for v in [&a, &b, &c] {
        let copies = copies_of(&tb, &v.id).await;
        assert_eq!(copies.len(), 1, "exactly one copy of {}", v.id);
        let row = report["volumes"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["old_id"] == v.id.as_str())
            .expect("row");
        assert_eq!(row["state"], "cleaned");
        assert_eq!(row["new_id"], copies[0].id.as_str());
        let source = image_hash(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)).await;
        // The report gives the digest and names its scheme.
        assert_eq!(row["checksum"], sparse_hash::digest(&source));
        assert_eq!(row["checksum_algorithm"], "blake3-sparse-64k-v2");
        assert_eq!(
            image_hash(&tb.var("NEW_CEPH_CONF"), &format!("volume-{}", copies[0].id)).await,
            source
        );
        let export = dir
            .path()
            .join("exports")
            .join(tb.var("OLD_RESEARCH_ID"))
            .join(format!("volume-{}.raw", v.id));
        assert!(!export.exists(), "export deleted after verify + tape");
        assert!(
            dir.path().join("tape").join(format!("volume-{}.raw", v.id)).exists(),
            "taped"
        );
    }
    // A second run finds everything done and copies nothing.
    let again = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &ids,
            "--yes",
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    for v in [&a, &b, &c] {
        assert_eq!(copies_of(&tb, &v.id).await.len(), 1);
    }
    let copies: Vec<String> = [&a, &b, &c].iter().map(|v| v.id.clone()).collect();
    cleanup_pairs(&tb, &copies).await;
}

/// Deletes sources and their copies.
async fn cleanup_pairs(tb: &Testbed, sources: &[String]) {
    let mut news = Vec::new();
    for s in sources {
        news.extend(copies_of(tb, s).await.into_iter().map(|v| v.id));
    }
    let src_refs: Vec<&str> = sources.iter().map(String::as_str).collect();
    let new_refs: Vec<&str> = news.iter().map(String::as_str).collect();
    delete_volumes(&tb.operator("old"), &src_refs).await;
    delete_volumes(&tb.operator("new"), &new_refs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tape_exits_2_and_keeps_the_export() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng tape"), 1, &[(0, noise(31, 1 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let tape = vec![
        "sh".into(),
        "-c".into(),
        "echo 'no tape loaded' >&2; exit 1".into(),
        "{file}".into(),
    ];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false).display().to_string();
    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &v.id,
            "--yes",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.contains("FAILED at tape") && stdout.contains("no tape loaded"),
        "{stdout}"
    );
    let export = dir
        .path()
        .join("exports")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join(format!("volume-{}.raw", v.id));
    assert!(export.exists(), "the export stays without a tape copy");
    assert_eq!(copies_of(&tb, &v.id).await.len(), 1, "the import itself is verified");
    let out = stackmigrate(dir.path(), &["--config", &cfg, "cleanup", "--project", "research"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("its tape copy failed"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        export.exists(),
        "cleanup refuses to delete an export without a tape copy"
    );
    cleanup_pairs(&tb, std::slice::from_ref(&v.id)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_one_volume_others_carry_on_then_retry_it() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..8).map(|i| (i * (128 << 20), noise(40 + i, 48 << 20))).collect();
    let slow = source_volume(&tb, &unique("eng abort"), 1, &regions, false).await;
    let other = source_volume(&tb, &unique("eng other"), 1, &[(0, noise(50, 1 << 20))], false).await;
    let mut r = rig(&tb, ImportStrategy::Replace, None);
    let mut events = std::mem::replace(&mut r.events, tokio::sync::mpsc::channel(1).1);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(8);
    let plan = Plan {
        project_id: tb.var("OLD_RESEARCH_ID"),
        project_name: "research".into(),
        volumes: vec![slow.clone(), other.clone()],
        project_dir: r.dir.path().join("work"),
        keep_exports: false,
        concurrency: Default::default(),
        stay_alive: true,
        sync: Default::default(),
        start_over: Default::default(),
    };
    let engine = tokio::spawn(run_migration(plan, Arc::new(r.pipeline), cmd_rx));
    let (mut aborted, mut retried, mut other_done) = (false, false, false);
    let mut slow_phases = Vec::new();
    while let Some(e) = events.recv().await {
        match &e {
            EngineEvent::Progress {
                volume,
                stage: Stage::Export,
                bytes,
                ..
            } if volume == &slow.id && *bytes > 0 && !aborted => {
                cmd_tx.send(EngineCommand::Abort(slow.id.clone())).await.expect("send");
                aborted = true;
            }
            EngineEvent::StateChanged { volume, phase } if volume == &slow.id => {
                slow_phases.push(*phase);
                if *phase == Phase::Aborted && !retried {
                    cmd_tx.send(EngineCommand::Retry(slow.id.clone())).await.expect("send");
                    retried = true;
                }
                if *phase == Phase::Cleaned {
                    cmd_tx.send(EngineCommand::Shutdown).await.expect("send");
                }
            }
            EngineEvent::StateChanged {
                volume,
                phase: Phase::Cleaned,
            } if volume == &other.id => other_done = true,
            _ => {}
        }
    }
    let summary = engine.await.expect("join").expect("engine");
    assert!(
        aborted && retried && other_done,
        "aborted {aborted} retried {retried} other {other_done}"
    );
    assert!(slow_phases.contains(&Phase::Aborted), "{slow_phases:?}");
    assert_eq!(slow_phases.last(), Some(&Phase::Cleaned), "{slow_phases:?}");
    assert_eq!(summary.verified, 2);
    for v in [&slow, &other] {
        assert_eq!(copies_of(&tb, &v.id).await.len(), 1);
    }
    cleanup_pairs(&tb, &[slow.id.clone(), other.id.clone()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_exports_then_cleanup_alone() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng keep"), 1, &[(0, noise(71, 1 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &v.id,
            "--yes",
            "--keep-exports",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let export = dir
        .path()
        .join("exports")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join(format!("volume-{}.raw", v.id));
    assert!(export.exists(), "--keep-exports keeps the file");
    let out = stackmigrate(dir.path(), &["--config", &cfg, "cleanup", "--project", "research"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("deleted export"), "{stdout}");
    assert!(!export.exists());
    cleanup_pairs(&tb, std::slice::from_ref(&v.id)).await;
}

//! Whole runs of `stackmigrate migrate` and of the engine API: pipelined
//! volumes, pre-flight, dry run, cleanup, reports, exit codes, abort and retry.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{run_migration, EngineCommand, EngineEvent, Phase, Plan, Stage};
use stackmigrate::storage::sparse_hash;

use std::sync::Arc;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migrate_of_the_same_project_is_refused_while_one_runs() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng lock"), 1, &[(0, noise(51, 4 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let tape_dir = dir.path().join("tape");
    // A slow tape keeps the first run (and its journal lock) alive for a while.
    let tape = vec![
        "sh".to_string(),
        "-c".to_string(),
        format!("sleep 12 && cp --sparse=always \"$0\" {}/", tape_dir.display()),
        "{file}".to_string(),
    ];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false).display().to_string();
    let args = [
        "--config",
        &cfg,
        "migrate",
        "--project",
        "research",
        "--volumes",
        &v.id,
        "--yes",
    ];
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(args)
        .arg("--log-file")
        .arg(dir.path().join("first.log"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("first migrate");
    let journal = dir
        .path()
        .join("work")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join("journal.jsonl");
    let t0 = std::time::Instant::now();
    while std::fs::metadata(&journal).map_or(true, |m| m.len() == 0) {
        assert!(t0.elapsed().as_secs() < 60, "the first run never wrote its journal");
        assert!(first.try_wait().expect("poll").is_none(), "the first run ended early");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second = stackmigrate(dir.path(), &args);
    assert!(
        first.try_wait().expect("poll").is_none(),
        "the first run was still going when the second was refused"
    );
    assert!(!second.status.success(), "{}", text(&second.stdout));
    assert!(
        text(&second.stderr).contains("another stackmigrate"),
        "{}",
        text(&second.stderr)
    );
    assert!(first.wait().expect("wait").success(), "the first run finishes");
    assert_eq!(copies_of(&tb, &v.id).await.len(), 1, "exactly one copy");
    let copies: Vec<String> = copies_of(&tb, &v.id).await.into_iter().map(|c| c.id).collect();
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
    delete_volumes(
        &tb.operator("new"),
        &copies.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
}

/// Images in the new pool that stackmigrate would stage for `source`.
fn staged_in_new_pool(tb: &Testbed, source: &str) -> Vec<String> {
    let out = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["ls", "volumes"])
        .output()
        .expect("rbd ls");
    text(&out.stdout)
        .lines()
        .filter(|l| l.contains(source))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_as_a_member_is_refused_by_preflight_before_any_export() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng manage member"), 1, &[(0, noise(61, 1 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    let args = [
        "--config",
        &cfg,
        "migrate",
        "--project",
        "research",
        "--volumes",
        &v.id,
        "--strategy",
        "manage",
        "--yes",
    ];
    let out = stackmigrate(dir.path(), &args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("✘ manage: Cinder refuses to list its pools") && stdout.contains("admin role"),
        "{stdout}"
    );
    assert!(text(&out.stderr).contains("pre-flight"), "{}", text(&out.stderr));
    assert!(staged_in_new_pool(&tb, &v.id).is_empty(), "no staging image");
    let exports = dir.path().join("exports").join(tb.var("OLD_RESEARCH_ID"));
    let written: Vec<_> = std::fs::read_dir(&exports)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(written.is_empty(), "no export: {written:?}");
    assert!(copies_of(&tb, &v.id).await.is_empty());

    // The admin passes both manage checks (dry run: nothing else is needed here).
    let admin_dir = tempfile::tempdir().expect("tmp");
    let admin_cfg = migrate_config(&tb, admin_dir.path(), None, true).display().to_string();
    let mut admin_args = args;
    admin_args[1] = &admin_cfg;
    admin_args[9] = "--dry-run";
    let out = stackmigrate(admin_dir.path(), &admin_args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("✔ manage: Cinder pool"), "{stdout}");
    assert!(
        stdout.contains("✔ manage: Cinder policy allows manage-existing"),
        "{stdout}"
    );
    assert!(staged_in_new_pool(&tb, &v.id).is_empty(), "a dry run stages nothing");
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

/// Should the policy change after pre-flight, a refused manage fails the
/// volume at import with its staging image journaled, and `cleanup` removes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_manage_leaves_its_staging_image_to_cleanup() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng manage refused"), 1, &[(0, noise(62, 1 << 20))], false).await;
    let mut r = rig(&tb, ImportStrategy::Manage, None);
    // A member's token: get_pools answers 403, as with a policy changed mid-run.
    r.pipeline.new_session = Arc::new(tb.operator("new").rescoped(&tb.var("NEW_RESEARCH_ID")));
    let mut events = std::mem::replace(&mut r.events, tokio::sync::mpsc::channel(1).1);
    let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(8);
    let project_dir = r.dir.path().join("work");
    let plan = Plan {
        project_id: tb.var("OLD_RESEARCH_ID"),
        project_name: "research".into(),
        volumes: vec![v.clone()],
        project_dir: project_dir.clone(),
        keep_exports: false,
        concurrency: Default::default(),
        stay_alive: false,
        sync: Default::default(),
    };
    let (old, new) = (r.pipeline.old.clone(), r.pipeline.new.clone());
    let engine = tokio::spawn(run_migration(plan, Arc::new(r.pipeline), cmd_rx));
    let mut failure = None;
    while let Some(e) = events.recv().await {
        if let EngineEvent::VolumeFailed { stage, error, .. } = e {
            failure = Some((stage, error));
        }
    }
    let summary = engine.await.expect("join").expect("engine");
    assert_eq!(summary.verified, 0);
    let (stage, error) = failure.expect("the volume failed");
    assert_eq!(stage, Stage::Import, "{error}");
    assert!(error.contains("403"), "{error}");
    let staging = format!("stackmigrate-{}", v.id);
    assert_eq!(
        staged_in_new_pool(&tb, &v.id),
        vec![staging.clone()],
        "staged, kept for a retry"
    );

    let mut journal = stackmigrate::engine::Journal::open(&project_dir.join("journal.jsonl")).expect("journal");
    assert_eq!(journal.get(&v.id).map(|r| r.phase), Some(Phase::Failed));
    let cancel = tokio_util::sync::CancellationToken::new();
    let actions = stackmigrate::engine::run_cleanup(&mut journal, &old, &new, &cancel)
        .await
        .expect("cleanup");
    assert!(
        actions
            .iter()
            .any(|a| a.contains(&format!("removed temporary image {staging}"))),
        "{actions:?}"
    );
    assert!(staged_in_new_pool(&tb, &v.id).is_empty(), "cleanup removed {staging}");
    assert!(copies_of(&tb, &v.id).await.is_empty());
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

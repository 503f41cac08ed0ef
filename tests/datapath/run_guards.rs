//! Runs that are refused before they touch anything, or that leave only
//! what cleanup removes: the project lock (a second `migrate` while one
//! runs) and pre-flight's refusal of `manage` without the admin role.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{run_migration, EngineEvent, Phase, Plan, Stage};

use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_migrate_of_the_same_project_is_refused_while_one_runs() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng lock"), 1, &[(0, noise(51, 4 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let tape_dir = dir.path().join("tape");
    // The tape waits for a gate the test opens once the second run is
    // refused, so the first run (and its journal lock) is alive until then,
    // however slow the second run's sign-in is (120 s at most).
    let gate = dir.path().join("gate");
    let tape = vec![
        "sh".to_string(),
        "-c".to_string(),
        format!(
            "i=0; while [ ! -e {} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; cp --sparse=always \"$0\" {}/",
            gate.display(),
            tape_dir.display()
        ),
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
    std::fs::write(&gate, b"").expect("open the gate");
    assert!(!second.status.success(), "{}", text(&second.stdout));
    assert!(
        text(&second.stderr).contains("another stackmigrate"),
        "{}",
        text(&second.stderr)
    );
    // Refused before it wrote the inventory or ran pre-flight, and before
    // its usage archive could empty the first run's staging directory.
    assert!(
        !text(&second.stdout).contains("inventory archived"),
        "{}",
        text(&second.stdout)
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

/// A `volume_type_map` that leads to a type the new cloud lacks is refused by
/// pre-flight, naming the type, the volume and what the new cloud has, before
/// anything is exported; mapped to a type it has, the plan passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_type_the_new_cloud_lacks_is_refused_by_preflight_before_any_export() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("eng type"), 1, &[(0, noise(63, 1 << 20))], false).await;
    let old_type = v.volume_type.clone().expect("the source has a type");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = migrate_config(&tb, dir.path(), None, false);
    let with_map = |to: &str| {
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg_path).expect("read")).expect("json");
        cfg["volume_type_map"] = serde_json::json!({ old_type.as_str(): to });
        std::fs::write(&cfg_path, serde_json::to_string_pretty(&cfg).expect("json")).expect("write");
    };
    let cfg = cfg_path.display().to_string();
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
    with_map("gold-nvme");
    let out = stackmigrate(dir.path(), &args);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", text(&out.stderr));
    let want = format!(
        "✘ volume type \"gold-nvme\" (volume_type_map maps \"{old_type}\" to it) does not exist in the new cloud, for {} ({}); the new cloud has: __DEFAULT__. Set volume_type_map in the config file to map \"{old_type}\" to one of those (or, if it is a private type, give the new project access to it: cinder type-access-add)",
        v.display_name(),
        v.id
    );
    assert!(stdout.contains(&want), "{stdout}");
    assert!(text(&out.stderr).contains("pre-flight"), "{}", text(&out.stderr));
    let exports = dir.path().join("exports").join(tb.var("OLD_RESEARCH_ID"));
    assert!(
        !exports.exists() || std::fs::read_dir(&exports).expect("dir").next().is_none(),
        "no export"
    );
    assert!(copies_of(&tb, &v.id).await.is_empty());

    with_map("__DEFAULT__");
    let mut dry = args;
    dry[7] = "--dry-run";
    let out = stackmigrate(dir.path(), &dry);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains("✔ volume types exist in the new cloud: __DEFAULT__"),
        "{stdout}"
    );
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
        start_over: Default::default(),
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

//! Issue 10 on the real testbed: one live task per volume (a retry while the
//! tape half still runs), new volumes trusted only by the journal, and stop
//! signals to a headless `migrate` mid-export and mid-tape.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{
    run_migration, EngineCommand, EngineEvent, MemoryLedger, NewVolumeLedger, Plan, Stage, CLAIM_KEY, SOURCE_KEY,
    STATE_KEY,
};
use stackmigrate::openstack::{Cinder, NewVolume};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Processes whose command line mentions `needle` (ours or orphans).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) {
            found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

/// The import fails at once (an unknown volume type) while a slow tape copy
/// runs; a retry pressed at once must wait for that copy: exactly one tape
/// process ever runs, and the export survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_while_the_tape_half_runs_never_starts_a_second_worker() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("hard retry"), 1, &[(0, noise(81, 2 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let runs = dir.path().join("tape-runs");
    let tape = vec![
        "sh".into(),
        "-c".into(),
        format!("echo $$ >> {}; sleep 6; cat \"$1\" > /dev/null", runs.display()),
        "tape".into(),
        "{file}".into(),
    ];
    let mut r = rig(&tb, ImportStrategy::Replace, Some(tape));
    let old_type = src.volume_type.clone().expect("the source has a volume type");
    r.pipeline.settings.volume_type_map = [(old_type, unique("no-such-type"))].into();
    let mut events = std::mem::replace(&mut r.events, tokio::sync::mpsc::channel(1).1);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::channel(8);
    let plan = Plan {
        project_id: tb.var("OLD_RESEARCH_ID"),
        project_name: "research".into(),
        volumes: vec![src.clone()],
        project_dir: r.dir.path().join("work"),
        keep_exports: false,
        concurrency: Default::default(),
        stay_alive: true,
        sync: Default::default(),
        start_over: Default::default(),
    };
    let export_dir = r.export_dir();
    let engine = tokio::spawn(run_migration(plan, Arc::new(r.pipeline), cmd_rx));
    let (mut failures, mut notices) = (0, Vec::new());
    while let Some(e) = events.recv().await {
        match &e {
            EngineEvent::VolumeFailed {
                stage: Stage::Import, ..
            } => {
                failures += 1;
                let next = if failures == 1 {
                    EngineCommand::Retry(src.id.clone())
                } else {
                    EngineCommand::Shutdown
                };
                cmd_tx.send(next).await.expect("send");
            }
            EngineEvent::Notice { message, .. } => notices.push(message.clone()),
            _ => {}
        }
    }
    engine.await.expect("join").expect("engine");
    assert_eq!(failures, 2, "the import failed, was retried once and failed again");
    assert!(
        notices.iter().any(|n| n.contains("retry queued")),
        "the retry was queued, not dropped: {notices:?}"
    );
    let tape_runs = std::fs::read_to_string(&runs).expect("tape ran");
    assert_eq!(tape_runs.lines().count(), 1, "exactly one tape process: {tape_runs}");
    let exports: Vec<_> = std::fs::read_dir(&export_dir).expect("exports").flatten().collect();
    assert_eq!(exports.len(), 1, "the export survives: {exports:?}");
    assert!(copies_of(&tb, &src.id).await.is_empty(), "no new volume was made");
    let staging = format!("volumes/stackmigrate-{}", src.id);
    let _ = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["rm", "--no-progress", &staging])
        .status();
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
}

/// A member's own volume, tagged as a copy of the source and `importing`:
/// `replace` must make its own volume and leave that one (and its data) be.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_tagged_by_a_member_is_never_touched() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("hard forged"), 1, &[(0, noise(82, 1 << 20))], false).await;
    let member = tb.operator("new");
    let cinder = Cinder::new(&member);
    let forged = cinder
        .create_volume(&NewVolume {
            size: 1,
            name: Some(unique("not stackmigrate's")),
            metadata: [
                (SOURCE_KEY.to_string(), src.id.clone()),
                (STATE_KEY.to_string(), "importing".to_string()),
            ]
            .into(),
            ..Default::default()
        })
        .await
        .expect("create");
    cinder
        .wait_for_status(&forged.id, &["available"], WAIT)
        .await
        .expect("available");
    let new_conf = tb.var("NEW_CEPH_CONF");
    let forged_image = format!("volume-{}", forged.id);
    write_regions(&new_conf, &forged_image, GIB, &[(4096, noise(83, 1 << 20))]);
    let before = image_hash(&new_conf, &forged_image).await;

    let mut r = rig(&tb, ImportStrategy::Replace, None);
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    let ledger = MemoryLedger::default();
    let imported = r
        .pipeline
        .import(&src, &export, &ledger, &cancel)
        .await
        .expect("import");
    assert_ne!(imported.new_id, forged.id, "the tagged volume was not reused");
    assert_eq!(
        ledger.created(),
        vec![imported.new_id.clone()],
        "the new volume was journaled"
    );
    assert_eq!(
        image_hash(&new_conf, &forged_image).await,
        before,
        "its data is untouched"
    );
    let still = cinder.get_volume(&forged.id).await.expect("it still exists");
    assert_eq!(still.metadata.get(STATE_KEY).map(String::as_str), Some("importing"));
    assert!(r.drain().iter().any(|e| matches!(e,
        EngineEvent::Log { line, .. } if line.contains(&forged.id) && line.contains("left alone"))));
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&member, &[&forged.id, &imported.new_id]).await;
}

/// A crash between Cinder's answer and the journal write: the one volume
/// carrying the journaled claim is adopted, not duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_carrying_the_journaled_claim_is_adopted_after_a_crash() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("hard claim"), 1, &[(0, noise(84, 1 << 20))], false).await;
    let mut r = rig(&tb, ImportStrategy::Replace, None);
    let ledger = MemoryLedger::default();
    let claim = ledger.claim().await.expect("claim");
    let mut fields = r.pipeline.new_volume_fields(&src);
    fields.metadata.insert(CLAIM_KEY.into(), claim);
    let member = tb.operator("new");
    let cinder = Cinder::new(&member);
    let orphan = cinder.create_volume(&fields).await.expect("create");
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    let imported = r
        .pipeline
        .import(&src, &export, &ledger, &cancel)
        .await
        .expect("import");
    assert_eq!(imported.new_id, orphan.id, "the claimed volume was adopted");
    assert_eq!(copies_of(&tb, &src.id).await.len(), 1, "no duplicate");
    assert_eq!(ledger.created(), vec![orphan.id.clone()]);
    let _ = r.drain();
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&member, &[&orphan.id]).await;
}

/// SIGTERM mid-export and SIGHUP mid-tape: a graceful stop (exit 130), no
/// child left behind, and a re-run that completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_stop_gracefully_and_the_rerun_completes() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..6).map(|i| (i * (160 << 20), noise(90 + i, 32 << 20))).collect();
    let src = source_volume(&tb, &unique("hard signal"), 1, &regions, false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let slow = dir.path().join("slow-tape");
    std::fs::write(&slow, "").expect("flag");
    let tape_dir = dir.path().join("tape");
    let tape = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "if [ -e {} ]; then sleep 300; fi; cp --sparse=always \"$1\" {}/",
            slow.display(),
            tape_dir.display()
        ),
        "tape".into(),
        "{file}".into(),
    ];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false).display().to_string();
    let (sent, code) = migrate_signalled(dir.path(), &cfg, &src.id, "export", "TERM");
    assert!(sent, "the run reached export");
    assert_eq!(code, Some(130), "SIGTERM mid-export");
    assert_eq!(processes_mentioning(&src.id), Vec::<String>::new(), "no rbd child left");
    let (sent, code) = migrate_signalled(dir.path(), &cfg, &src.id, "tape", "HUP");
    assert!(sent, "the run reached tape");
    assert_eq!(code, Some(130), "SIGHUP mid-tape");
    let tape_needle = slow.display().to_string();
    assert_eq!(
        processes_mentioning(&tape_needle),
        Vec::<String>::new(),
        "no tape child left"
    );
    std::fs::remove_file(&slow).expect("fast tape now");
    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &src.id,
            "--yes",
        ],
    );
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    let copies = copies_of(&tb, &src.id).await;
    assert_eq!(copies.len(), 1, "exactly one copy");
    let source = image_hash(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", src.id)).await;
    assert_eq!(
        image_hash(&tb.var("NEW_CEPH_CONF"), &format!("volume-{}", copies[0].id)).await,
        source
    );
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&copies[0].id]).await;
}

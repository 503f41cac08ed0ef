//! No staging disk on the simulated clouds: every volume streams straight
//! into the new store, and the tape, fed the same stream, keeps to its
//! drive count (`concurrency.tapes`) although exports run side by side.

use crate::demo_run::prepare;
use stackmigrate::config::TapeConfig;
use stackmigrate::engine::{EngineEvent, RunOptions, Stage};
use stackmigrate::sim::{SimClouds, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_volume_streams_and_three_exports_share_one_tape_drive() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        throttle_mib_s: Some(200),
        ..Default::default()
    })
    .await
    .expect("sim");
    let mut cfg = sim.config.clone();
    let configured = cfg.export_dir.take().expect("the demo's export dir");
    let tape_dir = dir.path().join("tape");
    std::fs::create_dir_all(&tape_dir).expect("dir");
    // One drive: a second tape command while one runs fails loudly.
    let lock = dir.path().join("drive.lock");
    let script = format!(
        "exec 9>{}; flock -n 9 || {{ echo 'the drive is busy' >&2; exit 9; }}; cat > {}/$$.diff",
        lock.display(),
        tape_dir.display()
    );
    cfg.tape = Some(TapeConfig {
        command: vec!["sh".into(), "-c".into(), script],
        drives: None,
    });
    cfg.concurrency.exports = 3;
    cfg.concurrency.tapes = 1;
    let (events, total) = crate::demo_run::run_all(&cfg).await;
    let Some(EngineEvent::Finished(s)) = events.last() else {
        panic!("last event is Finished")
    };
    let failures: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::VolumeFailed { error, .. } => Some(error.clone()),
            _ => None,
        })
        .collect();
    assert_eq!((s.verified, s.backup_failed, s.failed), (total, 0, 0), "{failures:#?}");
    let streams = std::fs::read_dir(&tape_dir).expect("tape dir").count();
    assert_eq!(streams, total, "one tape stream per volume");
    assert_eq!(files_under(&configured), 0, "nothing written where exports would go");
    // The tape gauge moves while the export streams, not only when it ends.
    let mut exporting = std::collections::HashSet::new();
    let mut taped_while_exporting = std::collections::HashSet::new();
    for e in &events {
        match e {
            EngineEvent::StageStarted {
                volume,
                stage: Stage::Export,
            } => {
                exporting.insert(volume.clone());
            }
            EngineEvent::StageFinished {
                volume,
                stage: Stage::Export,
            } => {
                exporting.remove(volume);
            }
            EngineEvent::Progress {
                volume,
                stage: Stage::Tape,
                bytes,
                ..
            } if *bytes > 0 && exporting.contains(volume) => {
                taped_while_exporting.insert(volume.clone());
            }
            _ => {}
        }
    }
    assert_eq!(taped_while_exporting.len(), total, "tape progress during each export");
}

/// Exports kept by a failed tape, then a run with no export dir configured
/// that retries the tape: the files its exports wrote (journaled) are
/// deleted once taped, wherever this run would put an export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_run_without_an_export_dir_still_deletes_the_exports_it_finishes() {
    let (_dir, sim) = crate::demo_run::default_sim().await;
    let mut cfg = sim.config.clone();
    let exports = cfg.export_dir.clone().expect("the demo's export dir");
    cfg.tape = Some(TapeConfig {
        command: vec!["sh".into(), "-c".into(), "cat > /dev/null; exit 5".into()],
        drives: None,
    });
    // The tape reads the whole (sparse) export file: the smallest volume only.
    let smallest = |mut v: Vec<stackmigrate::openstack::Volume>| {
        v.sort_by_key(|v| v.size);
        v.truncate(1);
        v
    };
    let (setup, volumes) = prepare(&cfg).await;
    let volumes = smallest(volumes);
    let total = volumes.len();
    let s = finish(setup.start(&cfg, volumes, RunOptions::default()).await.expect("start")).await;
    assert_eq!((s.verified, s.backup_failed), (total, total), "every tape failed");
    assert_eq!(files_under(&exports), total, "exports kept for the tape");
    cfg.export_dir = None;
    cfg.tape = Some(TapeConfig {
        command: vec!["sh".into(), "-c".into(), "cat > /dev/null".into()],
        drives: None,
    });
    let (setup, volumes) = prepare(&cfg).await;
    let s = finish(
        setup
            .start(&cfg, smallest(volumes), RunOptions::default())
            .await
            .expect("start"),
    )
    .await;
    assert_eq!((s.verified, s.backup_failed, s.failed), (total, 0, 0));
    assert_eq!(files_under(&exports), 0, "each taped export deleted");
}

async fn finish(mut running: stackmigrate::engine::Running) -> stackmigrate::engine::Summary {
    let mut last = None;
    while let Some(e) = running.events.recv().await {
        last = Some(e);
    }
    running.engine.await.expect("join").expect("engine");
    match last {
        Some(EngineEvent::Finished(s)) => s,
        other => panic!("last event is Finished: {other:?}"),
    }
}

fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.path() {
            p if p.is_dir() => files_under(&p),
            _ => 1,
        })
        .sum()
}

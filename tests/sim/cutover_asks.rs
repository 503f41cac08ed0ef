//! A cutover asked for while a round runs is dropped when that round is
//! aborted: the retry syncs on and never cuts over (forced) on a
//! confirmation the operator gave before the abort.

use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, RunOptions, SyncPlan};
use stackmigrate::in_use::InUse;
use stackmigrate::openstack::Session;
use stackmigrate::sim::{SimClouds, SimOptions};
use std::sync::Arc;

/// A dashboard-like run (synced round after round, never ending by itself)
/// of the first `n` volumes of `research` that running servers write to.
/// Kept whole while the test runs: its clouds and files go with it.
struct SyncRun {
    sim: SimClouds,
    running: stackmigrate::engine::Running,
    ids: Vec<String>,
    journal: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn sync_run(opts: SimOptions, imports: usize, n: usize) -> SyncRun {
    sync_run_pausing(opts, imports, n, std::time::Duration::from_millis(100)).await
}

/// [`sync_run`] with this pause between rounds.
async fn sync_run_pausing(opts: SimOptions, imports: usize, n: usize, pause: std::time::Duration) -> SyncRun {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        live_servers: true,
        ..opts
    })
    .await
    .expect("sim");
    let mut cfg = sim.config.clone();
    cfg.concurrency.imports = imports;
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let (project, rows) = crate::research_rows(&old).await;
    let rows: Vec<_> = rows.into_iter().filter(|r| r.live_writer().is_some()).take(n).collect();
    assert_eq!(rows.len(), n, "volumes of running servers");
    let journal = cfg.work_dir.join(&project.id).join("journal.jsonl");
    let sync = SyncPlan {
        modes: InUse::Sync.copy_modes(rows.iter(), false),
        rounds_per_run: None,
        pause,
        cutover_all: None,
    };
    let opts = RunOptions {
        stay_alive: true,
        sync,
        ..Default::default()
    };
    let volumes: Vec<_> = rows.iter().map(|r| r.volume.clone()).collect();
    let ids = volumes.iter().map(|v| v.id.clone()).collect();
    let setup = stackmigrate::engine::RunSetup::new(&cfg, old, new, project, None).expect("setup");
    let running = setup.start(&cfg, volumes, opts).await.expect("start");
    SyncRun {
        sim,
        running,
        ids,
        journal,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_cutover_asked_before_an_abort_is_not_carried_out_by_the_retry() {
    // Rounds that last long enough to be aborted.
    let throttled = SimOptions {
        throttle_mib_s: Some(8),
        ..Default::default()
    };
    let mut run = sync_run(throttled, 2, 1).await;
    let running = &mut run.running;
    let id = run.ids[0].clone();
    let (mut syncing, mut aborted, mut rounds_after_retry) = (0, false, 0);
    while let Some(e) = running.events.recv().await {
        let send = |c| running.commands.try_send(c).expect("send");
        match &e {
            EngineEvent::StateChanged { volume, phase } if *volume == id => match phase {
                // The second round runs: ask for a forced cutover, then abort the round.
                Phase::Syncing if !aborted => {
                    syncing += 1;
                    if syncing == 2 {
                        send(EngineCommand::Cutover {
                            volume: id.clone(),
                            force: true,
                        });
                        send(EngineCommand::Abort(id.clone()));
                        aborted = true;
                    }
                }
                Phase::Aborted => send(EngineCommand::Retry(id.clone())),
                Phase::CuttingOver => panic!("cut over on an ask made before the abort"),
                _ => {}
            },
            EngineEvent::SyncRound { volume, .. } if *volume == id && aborted => {
                rounds_after_retry += 1;
                if rounds_after_retry == 2 {
                    send(EngineCommand::Shutdown);
                }
            }
            _ => {}
        }
    }
    (&mut running.engine).await.expect("join").expect("engine");
    assert!(aborted, "the second round was reached");
    assert_eq!(rounds_after_retry, 2, "the retry synced on");
    let journal = std::fs::read_to_string(&run.journal).expect("journal");
    assert!(journal.contains("\"t\":\"aborted\""), "{journal}");
    assert!(!journal.contains("cutover_started"), "{journal}");
}

/// `F`, then `c` while the cutover's check of the servers is under way: the
/// latest ask holds, so the cutover is refused (the server runs), not forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_asked_again_unforced_during_the_servers_check_is_not_forced() {
    let mut run = sync_run(SimOptions::default(), 2, 1).await;
    let running = &mut run.running;
    let id = run.ids[0].clone();
    let mut asked = false;
    let mut refused = false;
    while let Some(e) = running.events.recv().await {
        match &e {
            EngineEvent::StateChanged { volume, phase } if *volume == id => match phase {
                Phase::Synced if !asked => {
                    asked = true;
                    // The check of the servers takes 2 s; the ask changes 0.3 s into it.
                    run.sim
                        .change_old_faults(|f| f.slow_server_show = Some(std::time::Duration::from_secs(2)));
                    running
                        .commands
                        .try_send(EngineCommand::Cutover {
                            volume: id.clone(),
                            force: true,
                        })
                        .expect("send");
                    let commands = running.commands.clone();
                    let volume = id.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                        let _ = commands.send(EngineCommand::Cutover { volume, force: false }).await;
                    });
                }
                Phase::CuttingOver => panic!("cut over FORCED on an ask the operator changed"),
                _ => {}
            },
            EngineEvent::Notice { volume, message }
                if volume.as_ref() == Some(&id) && message.contains("cutover refused") =>
            {
                refused = true;
                running.commands.try_send(EngineCommand::Shutdown).expect("send");
            }
            _ => {}
        }
    }
    (&mut running.engine).await.expect("join").expect("engine");
    assert!(refused, "the cutover was refused");
    let journal = std::fs::read_to_string(&run.journal).expect("journal");
    assert!(journal.contains("cutover_refused"), "{journal}");
    assert!(!journal.contains("cutover_started"), "{journal}");
}

/// A warm-synced volume aborted while it waits for an import slot for its
/// first round is recorded aborted (it was left `exported`, its row
/// "aborting" for good and its retry answered "nothing to retry").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_aborted_while_it_waits_for_its_first_rounds_slot_is_aborted_and_retried() {
    // Imports slow enough that the other volume waits for the one slot.
    let slow_imports = SimOptions {
        import_mib_s: Some(4),
        ..Default::default()
    };
    let mut run = sync_run(slow_imports, 1, 2).await;
    let running = &mut run.running;
    let mut phases = std::collections::HashMap::new();
    let (mut waiting, mut aborted, mut retried_synced) = (None::<String>, false, false);
    let watch = async {
        while let Some(e) = running.events.recv().await {
            let send = |c| running.commands.try_send(c).expect("send");
            let EngineEvent::StateChanged { volume, phase } = &e else {
                continue;
            };
            phases.insert(volume.clone(), *phase);
            match phase {
                Phase::Aborted if waiting.as_ref() == Some(volume) => {
                    aborted = true;
                    send(EngineCommand::Retry(volume.clone()));
                }
                Phase::Synced if aborted && waiting.as_ref() == Some(volume) => {
                    retried_synced = true;
                    send(EngineCommand::Shutdown);
                }
                _ => {}
            }
            // One volume holds the import slot (round 1); the other waits for it.
            let exported = phases
                .iter()
                .find(|(_, p)| **p == Phase::Exported)
                .map(|(v, _)| v.clone());
            if waiting.is_none() && phases.values().any(|p| *p == Phase::Syncing) {
                if let Some(v) = exported {
                    send(EngineCommand::Abort(v.clone()));
                    waiting = Some(v);
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(120), watch)
        .await
        .expect("the aborted volume was neither recorded aborted nor synced after its retry");
    (&mut running.engine).await.expect("join").expect("engine");
    assert!(waiting.is_some(), "a volume waited for the import slot");
    assert!(aborted && retried_synced, "aborted, then retried and synced");
}

/// An abort that reaches a synced volume between rounds (a long pause) ends its task with
/// nothing to record: the engine says it is synced again (a dashboard that
/// marked it aborting learns nothing runs), and a cutover then starts a task.
/// Refused (its server still runs), that task ends: the rounds the operator
/// stopped do not start again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_between_rounds_says_synced_and_a_cutover_then_runs() {
    let mut run = sync_run_pausing(SimOptions::default(), 2, 1, std::time::Duration::from_secs(30)).await;
    let running = &mut run.running;
    let id = run.ids[0].clone();
    let (mut aborted, mut said_again, mut refused) = (false, false, false);
    let watch = async {
        while let Some(e) = running.events.recv().await {
            let send = |c| running.commands.try_send(c).expect("send");
            match &e {
                EngineEvent::StateChanged {
                    volume,
                    phase: Phase::Synced,
                } if *volume == id => {
                    if !aborted {
                        aborted = true;
                        send(EngineCommand::Abort(id.clone()));
                    } else if !said_again {
                        said_again = true;
                        send(EngineCommand::Cutover {
                            volume: id.clone(),
                            force: false,
                        });
                    }
                }
                EngineEvent::Notice { volume, message }
                    if volume.as_ref() == Some(&id) && message.contains("cutover refused") =>
                {
                    refused = true;
                    // Time for a round to start, were the rounds not stopped
                    // (one starts at once after a refusal, with no pause).
                    let commands = running.commands.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        let _ = commands.send(EngineCommand::Shutdown).await;
                    });
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), watch)
        .await
        .expect("no second synced after the abort, or no cutover after it");
    (&mut running.engine).await.expect("join").expect("engine");
    assert!(aborted && said_again && refused);
    let journal = std::fs::read_to_string(&run.journal).expect("journal");
    let after: Vec<&str> = journal
        .lines()
        .skip_while(|l| !l.contains("\"cutover_refused\""))
        .filter(|l| l.contains(&id) && l.contains("\"sync_started\""))
        .collect();
    assert!(after.is_empty(), "a round after the refusal: {after:?}");
}

/// Rounds stopped by an abort between them go on at a retry, in the same
/// run: a new round at once (the pause is long), and the retry is said.
/// Stopped again, then a cutover asked (refused: the server runs) with a
/// retry right behind it: the rounds go on after the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_an_abort_between_rounds_syncs_on() {
    let mut run = sync_run_pausing(SimOptions::default(), 2, 1, std::time::Duration::from_secs(30)).await;
    let running = &mut run.running;
    let id = run.ids[0].clone();
    let (mut synced, mut said, mut refused, mut rounds) = (0, 0, false, Vec::new());
    let watch = async {
        while let Some(e) = running.events.recv().await {
            let send = |c| running.commands.try_send(c).expect("send");
            match &e {
                EngineEvent::StateChanged {
                    volume,
                    phase: Phase::Synced,
                } if *volume == id => {
                    synced += 1;
                    match synced {
                        1 | 3 => send(EngineCommand::Abort(id.clone())),
                        2 => send(EngineCommand::Retry(id.clone())),
                        4 => {
                            send(EngineCommand::Cutover {
                                volume: id.clone(),
                                force: false,
                            });
                            send(EngineCommand::Retry(id.clone()));
                        }
                        _ => {}
                    }
                }
                EngineEvent::Notice { volume, message } if volume.as_ref() == Some(&id) => {
                    said += usize::from(message.contains(": its rounds go on"));
                    refused |= message.contains("cutover refused");
                }
                EngineEvent::SyncRound { volume, round, .. } if *volume == id => {
                    rounds.push(*round);
                    if rounds.len() == 3 {
                        send(EngineCommand::Shutdown);
                    }
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), watch)
        .await
        .expect("no round after a retry");
    (&mut running.engine).await.expect("join").expect("engine");
    assert_eq!(said, 2, "each retry is said");
    assert!(refused, "the cutover was refused (its server runs)");
    assert_eq!(
        rounds,
        [1, 2, 3],
        "a round at once after each retry, not after the 30 s pause"
    );
}

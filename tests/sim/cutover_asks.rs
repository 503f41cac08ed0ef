//! A cutover asked for while a round runs is dropped when that round is
//! aborted: the retry syncs on and never cuts over (forced) on a
//! confirmation the operator gave before the abort.

use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, RunOptions, SyncPlan};
use stackmigrate::in_use::InUse;
use stackmigrate::openstack::Session;
use stackmigrate::sim::{SimClouds, SimOptions};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_cutover_asked_before_an_abort_is_not_carried_out_by_the_retry() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        live_servers: true,
        // Rounds that last long enough to be aborted.
        throttle_mib_s: Some(8),
        ..Default::default()
    })
    .await
    .expect("sim");
    let cfg = sim.config.clone();
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    // One volume of a running server: warm-synced round after round, as in the dashboard.
    let (project, row) = crate::in_use_row(&old).await;
    let journal_path = cfg.work_dir.join(&project.id).join("journal.jsonl");
    let id = row.volume.id.clone();
    let modes = InUse::Sync.copy_modes(std::iter::once(&row), false);
    let setup = stackmigrate::engine::RunSetup::new(&cfg, old, new, project, None).expect("setup");
    let sync = SyncPlan {
        modes,
        rounds_per_run: None,
        pause: std::time::Duration::from_millis(100),
        cutover_all: None,
    };
    let opts = RunOptions {
        stay_alive: true,
        sync,
        ..Default::default()
    };
    let mut running = setup.start(&cfg, vec![row.volume.clone()], opts).await.expect("start");
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
    running.engine.await.expect("join").expect("engine");
    assert!(aborted, "the second round was reached");
    assert_eq!(rounds_after_retry, 2, "the retry synced on");
    let journal = std::fs::read_to_string(&journal_path).expect("journal");
    assert!(journal.contains("\"t\":\"aborted\""), "{journal}");
    assert!(!journal.contains("cutover_started"), "{journal}");
}

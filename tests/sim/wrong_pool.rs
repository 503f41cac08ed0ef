//! `replace` into a pool that is not the one Cinder uses: the copy would
//! land beside an empty Cinder volume. It fails at import, naming the pool,
//! instead of verifying the copy it put in the wrong place.

use crate::demo_run::prepare;
use stackmigrate::engine::{EngineEvent, RunOptions, Stage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_into_a_pool_cinder_does_not_use_fails_and_verifies_nothing() {
    let (dir, sim) = crate::demo_run::default_sim().await;
    let mut cfg = sim.config.clone();
    // The new cloud's store pointed at a directory Cinder does not write to.
    let elsewhere = dir.path().join("another-pool");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    cfg.new_cloud.files.as_mut().expect("a file store").dir = elsewhere.clone();
    let (setup, volumes) = prepare(&cfg).await;
    let one = volumes.into_iter().take(1).collect::<Vec<_>>();
    let mut running = setup.start(&cfg, one, RunOptions::default()).await.expect("start");
    let (mut failed, mut finished) = (None, None);
    while let Some(e) = running.events.recv().await {
        match e {
            EngineEvent::VolumeFailed { stage, error, .. } => failed = Some((stage, error)),
            EngineEvent::Finished(s) => finished = Some(s),
            _ => {}
        }
    }
    running.engine.await.expect("join").expect("engine");
    let s = finished.expect("finished");
    assert_eq!((s.verified, s.failed), (0, 1), "{s:?}");
    let (stage, error) = failed.expect("the volume failed");
    assert_eq!(stage, Stage::Import, "{error}");
    assert!(error.contains("is not the pool Cinder uses"), "{error}");
}

//! Two runs of one project from different work dirs (each with a journal of
//! its own) never work on the same volume at once: the second is refused,
//! naming the volume and the first run's work dir. Both would use the
//! volume's one staging image on the new cluster.

use stackmigrate::engine::{EngineCommand, RunOptions, RunSetup, SetupError};
use stackmigrate::openstack::Session;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_from_another_work_dir_is_refused_the_same_volume() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let first_cfg = sim.config.clone();
    let mut second_cfg = sim.config.clone();
    second_cfg.work_dir = dir.path().join("another-work-dir");
    let setup = |cfg: stackmigrate::config::Config| async move {
        let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
        let new = Session::new("new", &cfg.new_cloud).expect("new");
        let (project, rows) = crate::research_rows(&old).await;
        let vol = rows
            .iter()
            .find(|r| r.volume.name.as_deref() == Some("scratch"))
            .expect("scratch")
            .volume
            .clone();
        (RunSetup::new(&cfg, old, new, project, None).expect("setup"), cfg, vol)
    };
    let opts = RunOptions {
        stay_alive: true,
        ..Default::default()
    };
    let (first, cfg, vol) = setup(first_cfg).await;
    let running = first
        .start(&cfg, vec![vol.clone()], opts.clone())
        .await
        .expect("first run");
    let (second, cfg2, _) = setup(second_cfg).await;
    let Err(e) = second.start(&cfg2, vec![vol.clone()], opts).await else {
        panic!("a second run on the same volume started");
    };
    assert!(matches!(e, SetupError::VolumeLock(_)), "{e}");
    let text = e.to_string();
    let first_dir = cfg.work_dir.display().to_string();
    assert!(text.contains(&vol.id) && text.contains(&first_dir), "{text}");
    running.commands.send(EngineCommand::Shutdown).await.expect("shutdown");
    let mut events = running.events;
    while events.recv().await.is_some() {}
    running.engine.await.expect("join").expect("engine");
}

//! The demo with `--work-dir` keeps its simulated clouds' volumes there, so
//! a second run finds the new volumes the first created and resumes a warm
//! sync as against real clouds; without it the clouds start afresh.

use crate::{failures, live_sim as start, rounds_verified};
use stackmigrate::openstack::{Cinder, Nova, Session};
use stackmigrate::sim::SimClouds;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_work_dir_keeps_the_clouds_and_the_next_run_resumes_the_sync() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path(), true).await;
    let (cfg, old) = (sim.config.clone(), old_session(&sim));
    // A second demo in the same directory meanwhile is refused: it would
    // overwrite these clouds' state.
    let opts = stackmigrate::sim::SimOptions {
        dir: dir.path().to_path_buf(),
        keep_state: true,
        ..Default::default()
    };
    let Err(e) = SimClouds::start(opts).await else {
        panic!("a second set of clouds started in the same --work-dir");
    };
    assert!(e.to_string().contains("another stackmigrate demo is running"), "{e}");
    let (_, row) = crate::in_use_row(&old).await;
    let first = crate::one_sync_run(&cfg, &row, None).await;
    assert!(failures(&first).is_empty(), "{first:?}");
    assert_eq!(rounds_verified(&first), [1], "{first:?}");
    let created = new_volume_ids(&sim).await;
    assert_eq!(created.len(), 1, "the new volume of round 1");
    drop(sim);

    // The next run: new ports, the same directory, the same clouds.
    let sim = start(dir.path(), true).await;
    assert_eq!(new_volume_ids(&sim).await, created, "the new cloud kept its volume");
    let mut cfg2 = sim.config.clone();
    cfg2.work_dir = cfg.work_dir.clone();
    let second = crate::one_sync_run(&cfg2, &row, None).await;
    assert!(failures(&second).is_empty(), "{second:?}");
    assert_eq!(rounds_verified(&second), [2], "round 2 after round 1: {second:?}");
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).expect("meta").permissions()) & 0o777
    };
    for cloud in ["old", "new"] {
        assert_eq!(mode(&dir.path().join(format!("{cloud}-cloud.json"))), 0o600, "{cloud}");
    }
    // The maintenance window stops the servers; a volume's data changed meanwhile.
    assert!(!sim.stop_servers().is_empty(), "running servers stopped");
    let (_, rows) = crate::research_rows(&old_session(&sim)).await;
    let cold = rows
        .iter()
        .find(|r| r.live_writer().is_none() && r.volume.status == "available")
        .expect("a detached volume")
        .volume
        .id
        .clone();
    drop(sim);
    let image = dir.path().join("old-pool").join(format!("volume-{cold}"));
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::OpenOptions::new().write(true).open(&image).expect("image"),
        b"KEPT",
        0,
    )
    .expect("write");

    // A third run finds them as the second left them.
    let sim = start(dir.path(), true).await;
    let server = row.servers[0].id.clone();
    let status = Nova::new(&old_session(&sim))
        .get_server(&server)
        .await
        .expect("server")
        .status;
    assert_eq!(status.as_deref(), Some("SHUTOFF"), "the stopped server stays stopped");
    let mut head = [0u8; 4];
    std::os::unix::fs::FileExt::read_exact_at(&std::fs::File::open(&image).expect("image"), &mut head, 0)
        .expect("read");
    assert_eq!(&head, b"KEPT", "the old cloud's volume data is not seeded afresh");
    drop(sim);

    // Not kept: the new cloud starts empty.
    let fresh = tempfile::tempdir().expect("tmp");
    for f in ["old-cloud.json", "new-cloud.json"] {
        std::fs::copy(dir.path().join(f), fresh.path().join(f)).expect("copy");
    }
    let sim = start(fresh.path(), false).await;
    assert!(new_volume_ids(&sim).await.is_empty(), "a cloud not kept starts afresh");
}

/// The ids of the volumes in the simulated new cloud, as its Cinder lists them.
async fn new_volume_ids(sim: &SimClouds) -> Vec<String> {
    let new = Session::new("new", &sim.config.new_cloud).expect("new");
    let mut ids: Vec<String> = Cinder::new(&new)
        .list_volumes(None)
        .await
        .expect("list")
        .into_iter()
        .map(|v| v.id)
        .collect();
    ids.sort();
    ids
}

/// The new volume deleted in the new cloud between two rounds (or a demo
/// whose clouds were not kept): the sync stops naming it, and says how to
/// copy the volume afresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_volume_deleted_between_rounds_stops_the_sync_and_says_what_next() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path(), false).await;
    let (cfg, old) = (sim.config.clone(), old_session(&sim));
    let (_, row) = crate::in_use_row(&old).await;
    let first = crate::one_sync_run(&cfg, &row, None).await;
    assert_eq!(rounds_verified(&first), [1], "{first:?}");
    let created = new_volume_ids(&sim).await;
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    Cinder::new(&new).delete_volume(&created[0]).await.expect("delete");
    let second = crate::one_sync_run(&cfg, &row, None).await;
    let failed = failures(&second);
    assert_eq!(failed.len(), 1, "{second:?}");
    assert!(
        failed[0].contains(&format!("the new volume {} is no longer in the new cloud", created[0]))
            && failed[0].contains("start the volume over (R in the dashboard, `migrate --start-over --volumes"),
        "{failed:?}"
    );
    assert!(rounds_verified(&second).is_empty(), "{second:?}");
}

fn old_session(sim: &SimClouds) -> Session {
    Session::new("old", &sim.config.old_cloud).expect("old")
}

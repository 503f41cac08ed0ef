//! A usage archive that does not add up: Nova purges deleted servers' rows
//! between the whole-period query and the months (`nova-manage db
//! archive_deleted_rows` from cron). The archive is written, and says so.

use stackmigrate::sim::{Faults, SimClouds, SimOptions};

/// The simulated clouds, whose Nova purges deleted servers' usage once it
/// has answered the whole period.
async fn purging(dir: &std::path::Path) -> SimClouds {
    SimClouds::start(SimOptions {
        dir: dir.to_path_buf(),
        faults: Faults {
            usage_purge: true,
            ..Faults::builder()
        },
        ..Default::default()
    })
    .await
    .expect("sim")
}

#[tokio::test]
async fn an_archive_whose_months_miss_purged_rows_needs_a_look() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = purging(dir.path()).await;
    let args = stackmigrate::cli::UsageArgs {
        project: "research".into(),
        start: None,
        end: None,
        json: true,
    };
    let period = sim.config.usage;
    let work = dir.path().join("usage-work");
    let code = stackmigrate::cli::run_usage(&sim.config.old_cloud, period, &work, 2, &args)
        .await
        .expect("archived");
    assert_eq!(code, 2, "the months do not add up to the total");
    let again = stackmigrate::cli::run_usage(&sim.config.old_cloud, period, &work, 2, &args)
        .await
        .expect("archived again");
    assert_eq!(again, 0, "nothing purged since: it adds up");
}

/// `migrate` archives the usage beside the copies: one that does not add up
/// makes the run need attention (exit 2) though every volume is verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_with_an_archive_that_does_not_add_up_exits_2() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = purging(dir.path()).await;
    let old = stackmigrate::openstack::Session::new("old", &sim.config.old_cloud).expect("old");
    let (_, rows) = crate::research_rows(&old).await;
    let wiki = rows
        .iter()
        .find(|r| r.volume.name.as_deref() == Some("wiki"))
        .expect("wiki");
    let args = stackmigrate::cli::MigrateArgs {
        volumes: wiki.volume.id.clone(),
        yes: true,
        ..stackmigrate::cli::MigrateArgs::new("research")
    };
    let code = stackmigrate::cli::run_migrate(&sim.config, &args)
        .await
        .expect("migrate");
    assert_eq!(code, 2, "wiki verified, the usage archive needs a look");
}

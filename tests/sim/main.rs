//! The demo's simulated clouds: fidelity to the real services' responses,
//! the headless demo end to end, and the injected faults.

mod attachments;
mod cut_over_resume;
mod cutover_asks;
mod demo_run;
mod early_answers;
mod fidelity;
mod file_modes;
#[path = "../common/json_shape.rs"]
mod json_shape;
mod kept_state;
mod log_file;
mod no_export_file;
mod projects;
mod start_over;
mod stopped_run;
mod tape_drives;
mod transient;
mod two_work_dirs;
mod usage_purge;
mod wrong_pool;

/// The embedded clouds with default options, their files under `dir`.
pub async fn sim(dir: &std::path::Path) -> stackmigrate::sim::SimClouds {
    stackmigrate::sim::SimClouds::start(stackmigrate::sim::SimOptions {
        dir: dir.to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("sim")
}

/// Project `research` of the simulated old cloud and its volumes, as listed.
pub async fn research_rows(
    old: &stackmigrate::openstack::Session,
) -> (stackmigrate::openstack::Project, Vec<stackmigrate::engine::VolumeRow>) {
    let project = stackmigrate::openstack::Keystone::new(old)
        .find_project("research")
        .await
        .expect("project");
    let rows = stackmigrate::engine::project_volumes(old, &project)
        .await
        .expect("volumes");
    (project, rows)
}

/// Project `research` of the simulated old cloud, and its first volume a
/// running server writes to (warm-synced by default).
pub async fn in_use_row(
    old: &stackmigrate::openstack::Session,
) -> (stackmigrate::openstack::Project, stackmigrate::engine::VolumeRow) {
    let (project, rows) = research_rows(old).await;
    let row = rows
        .into_iter()
        .find(|r| r.live_writer().is_some())
        .expect("an in-use volume");
    (project, row)
}

/// One headless run of `row` to its end, one warm-sync round at most:
/// `migrate --sync`, or with `cutover_all` `migrate --cutover` (`Some(true)`:
/// `--force-cutover`). Returns every event it sent.
pub async fn one_sync_run(
    cfg: &stackmigrate::config::Config,
    row: &stackmigrate::engine::VolumeRow,
    cutover_all: Option<bool>,
) -> Vec<stackmigrate::engine::EngineEvent> {
    sync_run(cfg, row, cutover_all, false).await
}

/// [`one_sync_run`], `start_over`: `migrate --start-over` of `row`.
pub async fn sync_run(
    cfg: &stackmigrate::config::Config,
    row: &stackmigrate::engine::VolumeRow,
    cutover_all: Option<bool>,
    start_over: bool,
) -> Vec<stackmigrate::engine::EngineEvent> {
    let opts = stackmigrate::engine::RunOptions {
        sync: one_round_plan(row, cutover_all),
        start_over: start_over.then(|| row.volume.id.clone()).into_iter().collect(),
        ..Default::default()
    };
    let setup = research_setup(cfg).await;
    let mut running = setup.start(cfg, vec![row.volume.clone()], opts).await.expect("start");
    let mut events = Vec::new();
    while let Some(e) = running.events.recv().await {
        events.push(e);
    }
    running.engine.await.expect("join").expect("engine");
    events
}

/// A run's setup for project `research`, as `migrate` makes it.
pub async fn research_setup(cfg: &stackmigrate::config::Config) -> stackmigrate::engine::RunSetup {
    use stackmigrate::openstack::{Keystone, Session};
    let old = std::sync::Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    stackmigrate::engine::RunSetup::new(cfg, old, new, project, None).expect("setup")
}

/// Warm sync of `row`, one round per run, as `migrate` plans it.
pub fn one_round_plan(
    row: &stackmigrate::engine::VolumeRow,
    cutover_all: Option<bool>,
) -> stackmigrate::engine::SyncPlan {
    stackmigrate::engine::SyncPlan {
        modes: stackmigrate::in_use::InUse::Sync.copy_modes(std::iter::once(row), false),
        rounds_per_run: Some(1),
        pause: std::time::Duration::from_millis(100),
        cutover_all,
    }
}

/// The embedded clouds with servers that keep writing, their files under
/// `dir` (`keep_state`: as the demo keeps them with `--work-dir`).
pub async fn live_sim(dir: &std::path::Path, keep_state: bool) -> stackmigrate::sim::SimClouds {
    stackmigrate::sim::SimClouds::start(stackmigrate::sim::SimOptions {
        dir: dir.to_path_buf(),
        live_servers: true,
        keep_state,
        ..Default::default()
    })
    .await
    .expect("sim")
}

/// The warm-sync rounds the events say were verified, in order.
pub fn rounds_verified(events: &[stackmigrate::engine::EngineEvent]) -> Vec<u32> {
    use stackmigrate::engine::EngineEvent;
    let round = |e: &EngineEvent| match e {
        EngineEvent::SyncRound { round, .. } => Some(*round),
        _ => None,
    };
    events.iter().filter_map(round).collect()
}

/// The volumes' failures the events report, their messages.
pub fn failures(events: &[stackmigrate::engine::EngineEvent]) -> Vec<String> {
    use stackmigrate::engine::EngineEvent;
    let error = |e: &EngineEvent| match e {
        EngineEvent::VolumeFailed { error, .. } => Some(error.clone()),
        _ => None,
    };
    events.iter().filter_map(error).collect()
}

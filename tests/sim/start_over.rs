//! Starting a volume over where its warm sync cannot go on: the journal
//! forgets the copy, the warm-sync snapshots it left go on both sides, the
//! new volume it made is left alone (never reused), and the volume is copied
//! afresh into a new one, round 1 included. Headless (`--start-over`) and by
//! the dashboard's command; refused for a copy already cut over, and for a
//! volume whose task still runs.

use crate::{failures, rounds_verified};
use stackmigrate::config::Config;
use stackmigrate::engine::{EngineCommand, EngineEvent, RunOptions, VolumeRow};
use stackmigrate::openstack::{Cinder, Session};
use stackmigrate::sim::SimClouds;
use std::io::{Seek, Write};
use std::path::Path;

async fn start(dir: &Path) -> SimClouds {
    crate::live_sim(dir, false).await
}

/// The snapshots of `image` in a simulated cluster's directory.
fn snaps(cluster: &Path, image: &str) -> Vec<String> {
    let prefix = format!("{image}@");
    let mut names: Vec<String> = std::fs::read_dir(cluster)
        .expect("cluster dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_prefix(&prefix).map(String::from))
        .collect();
    names.sort();
    names
}

fn cluster(cfg: &stackmigrate::config::CloudConfig) -> &Path {
    &cfg.files.as_ref().expect("a files section").dir
}

/// The log lines and notices, one text.
fn said(events: &[EngineEvent]) -> String {
    let lines = events.iter().filter_map(|e| match e {
        EngineEvent::Log { line, .. } => Some(line.as_str()),
        EngineEvent::Notice { message, .. } => Some(message.as_str()),
        _ => None,
    });
    lines.collect::<Vec<_>>().join("\n")
}

async fn new_volumes(cfg: &Config) -> Vec<String> {
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let list = Cinder::new(&new).list_volumes(None).await.expect("list");
    list.into_iter().map(|v| v.id).collect()
}

/// Two rounds, then the new image written to behind stackmigrate's back:
/// the next round stops at the guard, and a retry could only stop there
/// again. Returns the row and the new volume.
async fn a_copy_that_cannot_go_on(sim: &SimClouds) -> (VolumeRow, String) {
    let cfg = &sim.config;
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let (_, row) = crate::in_use_row(&old).await;
    assert_eq!(rounds_verified(&crate::one_sync_run(cfg, &row, None).await), [1]);
    assert_eq!(rounds_verified(&crate::one_sync_run(cfg, &row, None).await), [2]);
    let made = new_volumes(cfg).await;
    assert_eq!(made.len(), 1, "{made:?}");
    let image = cluster(&cfg.new_cloud).join(format!("volume-{}", made[0]));
    let mut f = std::fs::OpenOptions::new().write(true).open(&image).expect("new image");
    f.seek(std::io::SeekFrom::Start(1 << 20)).expect("seek");
    f.write_all(&[0xab; 65536]).expect("write");
    drop(f);
    let third = crate::one_sync_run(cfg, &row, None).await;
    let failed = failures(&third);
    assert_eq!(failed.len(), 1, "{third:?}");
    let hint = format!("`migrate --start-over --volumes {}` headless", row.volume.id);
    assert!(
        failed[0].contains("were written to the new image") && failed[0].contains(&hint),
        "{failed:?}"
    );
    let source = format!("volume-{}", row.volume.id);
    assert_eq!(snaps(cluster(&cfg.old_cloud), &source), ["stackmigrate-sync-2"]);
    (row, made[0].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_over_forgets_the_copy_leaves_its_new_volume_alone_and_copies_afresh() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path()).await;
    let cfg = sim.config.clone();
    let (row, first) = a_copy_that_cannot_go_on(&sim).await;
    let (id, source) = (&row.volume.id, format!("volume-{}", row.volume.id));

    // While Cinder still makes a new volume of this source (one the journal
    // may know only by its claim: a crash came between Cinder's answer and
    // the journal), nothing is forgotten.
    let making = "0e5c1d2a-making-a-copy".to_string();
    {
        let mut new = sim.new.lock().expect("new cloud");
        let mut v = new.volumes.get(&first).expect("the first new volume").clone();
        (v.id, v.status) = (making.clone(), "creating".into());
        v.created_at = chrono::Utc::now().naive_utc() + chrono::Duration::hours(1);
        new.volumes.insert(making.clone(), v);
    }
    let refused = crate::sync_run(&cfg, &row, None, true).await;
    assert!(
        said(&refused).contains(&format!(
            "logs ({id}): cannot start it over: Cinder is still making new volume {making} (creating) from this copy"
        )),
        "{refused:?}"
    );
    assert!(!refused.iter().any(|e| matches!(e, EngineEvent::StartedOver { .. })));
    assert_eq!(snaps(cluster(&cfg.old_cloud), &source), ["stackmigrate-sync-2"]);
    sim.new.lock().expect("new cloud").volumes.remove(&making);

    let events = crate::sync_run(&cfg, &row, None, true).await;
    assert!(failures(&events).is_empty(), "{events:?}");
    // Failed, so not retried at the run's start: the start-over is attempt 2.
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::StartedOver { volume, attempt: 2 } if volume == id)),
        "{events:?}"
    );
    assert_eq!(rounds_verified(&events), [1], "round 1 again: {events:?}");
    let text = said(&events);
    for line in [
        format!("removed the source's warm-sync snapshots {source}@stackmigrate-sync-2"),
        format!("removed the new image's warm-sync snapshots volume-{first}@stackmigrate-sync-2"),
        format!("the new volume(s) {first} of the copy about to be forgotten are left alone, never reused"),
        format!("new volume(s) {first} claim to be copies of this volume, but this project's journal does not record creating them: left alone"),
    ] {
        assert!(text.contains(&line), "{line}\n{text}");
    }
    // The first copy is left alone, its snapshot gone (so Cinder can delete
    // it); the fresh one is a new volume, at round 1 on both sides.
    let made = new_volumes(&cfg).await;
    assert_eq!(made.len(), 2, "{made:?}");
    let second = made.iter().find(|v| **v != first).expect("a second new volume");
    let new_cluster = cluster(&cfg.new_cloud);
    assert!(snaps(new_cluster, &format!("volume-{first}")).is_empty());
    assert_eq!(snaps(new_cluster, &format!("volume-{second}")), ["stackmigrate-sync-1"]);
    assert_eq!(snaps(cluster(&cfg.old_cloud), &source), ["stackmigrate-sync-1"]);

    // The fresh copy goes on to its cutover, into the second volume.
    let cut = crate::one_sync_run(&cfg, &row, Some(true)).await;
    assert!(failures(&cut).is_empty(), "{cut:?}");
    assert!(
        said(&cut).contains(&format!("cut over: new volume {second} verified")),
        "{cut:?}"
    );
    // A cut-over copy is kept: a start-over is refused, and nothing runs.
    let again = crate::sync_run(&cfg, &row, None, true).await;
    assert!(
        said(&again).contains(&format!(
            "volume {id}: cannot start it over: its copy is already verified in the new cloud (new volume {second})"
        )),
        "{again:?}"
    );
    assert!(rounds_verified(&again).is_empty(), "{again:?}");
    // The plan tells the dashboard that this copy is kept (no `R` on it).
    let kept = again.iter().find_map(|e| match e {
        EngineEvent::Planned { volumes, .. } => volumes.first().map(|p| p.kept),
        _ => None,
    });
    assert_eq!(kept, Some(true), "{again:?}");
}

/// The dashboard's way: the failed volume started over by a command while
/// the run stays alive; asked while its task runs, or asked again while
/// it starts over, refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_starts_a_failed_volume_over_and_refuses_a_running_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path()).await;
    let cfg = sim.config.clone();
    let (row, first) = a_copy_that_cannot_go_on(&sim).await;
    let id = row.volume.id.clone();
    let setup = crate::research_setup(&cfg).await;
    let opts = RunOptions {
        stay_alive: true,
        sync: crate::one_round_plan(&row, None),
        ..Default::default()
    };
    let mut running = setup.start(&cfg, vec![row.volume.clone()], opts).await.expect("start");
    let commands = running.commands.clone();
    let mut events = Vec::new();
    while let Some(e) = running.events.recv().await {
        match &e {
            // The retry at the run's start runs the round that fails.
            EngineEvent::StageStarted { volume, .. } if *volume == id && failures(&events).is_empty() => {
                let _ = commands.try_send(EngineCommand::StartOver(id.clone()));
            }
            EngineEvent::VolumeFailed { .. } => {
                commands
                    .try_send(EngineCommand::StartOver(id.clone()))
                    .expect("start over");
            }
            // Asked again while its task forgets the copy.
            EngineEvent::Log { line, .. } if line.starts_with("removed the source's warm-sync snapshots") => {
                commands
                    .try_send(EngineCommand::StartOver(id.clone()))
                    .expect("start over again");
            }
            EngineEvent::SyncRound { round: 1, .. } => {
                commands.try_send(EngineCommand::Shutdown).expect("shutdown");
            }
            _ => {}
        }
        events.push(e);
    }
    running.engine.await.expect("join").expect("engine");
    let text = said(&events);
    assert!(
        text.contains("cannot start it over: it is still running; abort it first (x), then start it over"),
        "{text}"
    );
    // The second ask, while the copy was being forgotten, is refused (as
    // "being started over already", or, once the start-over is journaled,
    // as running): queued, it would forget the fresh copy after it.
    let refusals = text
        .matches("cannot start it over: it is being started over already")
        .count()
        + text.matches("cannot start it over: it is still running").count();
    assert_eq!(refusals, 2, "{text}");
    // Attempt 2 was the retry at the run's start; the start-over is the third, and the only one.
    let started: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::StartedOver { attempt, .. } => Some(*attempt),
            _ => None,
        })
        .collect();
    assert_eq!(started, [3], "{events:?}");
    assert_eq!(rounds_verified(&events), [1], "{events:?}");
    let made = new_volumes(&cfg).await;
    assert_eq!(made.len(), 2, "a second new volume beside {first}: {made:?}");
}

/// `migrate --start-over` refuses, naming the volume and before anything
/// starts: without volumes named, for a volume the journal knows no copy of,
/// for one that has not failed (run again after a crash, the same command
/// must resume the fresh copy, not start it over once more), and for a
/// verified one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_start_over_refuses_what_it_cannot_forget() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path()).await;
    let old = Session::new("old", &sim.config.old_cloud).expect("old");
    let wiki = wiki(&old).await;
    let mut args = stackmigrate::cli::MigrateArgs {
        yes: true,
        start_over: true,
        ..stackmigrate::cli::MigrateArgs::new("research")
    };
    let why = refused(&sim.config, &args).await;
    assert!(why.contains("--start-over needs --volumes naming the volumes"), "{why}");
    args.volumes = wiki.volume.id.clone();
    let why = refused(&sim.config, &args).await;
    let named = format!("--start-over: volume {} (wiki): ", wiki.volume.id);
    assert!(why.starts_with(&named) && why.contains("has no copy of it"), "{why}");
    let (_, synced) = crate::in_use_row(&old).await;
    assert_eq!(
        rounds_verified(&crate::one_sync_run(&sim.config, &synced, None).await),
        [1]
    );
    let mut on_synced = args.clone();
    on_synced.volumes = synced.volume.id.clone();
    let why = refused(&sim.config, &on_synced).await;
    assert!(
        why.contains("it has not failed (Synced): run without --start-over to go on with its copy"),
        "{why}"
    );
    args.start_over = false;
    let code = stackmigrate::cli::run_migrate(&sim.config, &args)
        .await
        .expect("migrate");
    assert_eq!(code, 0, "wiki copied");
    args.start_over = true;
    let why = refused(&sim.config, &args).await;
    assert!(why.starts_with(&named) && why.contains("already verified"), "{why}");
}

/// The demo's `wiki` volume (detached: copied in one pass).
async fn wiki(old: &Session) -> VolumeRow {
    let (_, rows) = crate::research_rows(old).await;
    rows.into_iter()
        .find(|r| r.volume.name.as_deref() == Some("wiki"))
        .expect("wiki")
}

async fn refused(cfg: &Config, args: &stackmigrate::cli::MigrateArgs) -> String {
    match stackmigrate::cli::run_migrate(cfg, args).await {
        Err(e) => e.to_string(),
        Ok(code) => panic!("started, exit {code}"),
    }
}

/// `--start-over` naming several volumes: one that cannot be started over
/// (here: no copy of it yet) goes on as without the flag, so that the same
/// command run again after a crash resumes what it started; the others
/// start over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_start_over_of_several_starts_over_those_it_can_and_copies_the_rest() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path()).await;
    let (row, first) = a_copy_that_cannot_go_on(&sim).await;
    let old = Session::new("old", &sim.config.old_cloud).expect("old");
    let wiki = wiki(&old).await;
    let args = stackmigrate::cli::MigrateArgs {
        yes: true,
        start_over: true,
        volumes: format!("{},{}", row.volume.id, wiki.volume.id),
        ..stackmigrate::cli::MigrateArgs::new("research")
    };
    let code = stackmigrate::cli::run_migrate(&sim.config, &args)
        .await
        .expect("migrate");
    assert_eq!(
        code,
        stackmigrate::exit_codes::ATTENTION,
        "logs synced afresh, wiki verified; wiki, named to start over, was not: a look"
    );
    let made = new_volumes(&sim.config).await;
    assert_eq!(
        made.len(),
        3,
        "beside {first}, a fresh copy of logs and one of wiki: {made:?}"
    );
    let source = format!("volume-{}", row.volume.id);
    assert_eq!(snaps(cluster(&sim.config.old_cloud), &source), ["stackmigrate-sync-1"]);
    // Run again: neither can be started over now, and nothing starts.
    let why = refused(&sim.config, &args).await;
    assert!(
        why.contains("it has not failed (Synced)") && why.contains("already verified"),
        "{why}"
    );
}

/// The `manage` strategy: the copy lives in the staging image until cutover
/// (no new volume yet). Written to behind our back, it cannot go on; started
/// over, the staging image's warm-sync snapshots go, it is filled afresh
/// (round 1 again) and Cinder adopts it at the cutover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_copy_starts_over_in_its_staging_image() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start(dir.path()).await;
    let mut cfg = sim.config.clone();
    cfg.import_strategy = stackmigrate::config::ImportStrategy::Manage;
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let (_, row) = crate::in_use_row(&old).await;
    assert_eq!(rounds_verified(&crate::one_sync_run(&cfg, &row, None).await), [1]);
    assert_eq!(rounds_verified(&crate::one_sync_run(&cfg, &row, None).await), [2]);
    assert!(new_volumes(&cfg).await.is_empty(), "no new volume before the cutover");
    let (new_cluster, staging) = (cluster(&cfg.new_cloud), format!("stackmigrate-{}", row.volume.id));
    assert_eq!(snaps(new_cluster, &staging), ["stackmigrate-sync-2"]);
    let image = new_cluster.join(&staging);
    std::os::unix::fs::FileExt::write_all_at(
        &std::fs::OpenOptions::new()
            .write(true)
            .open(&image)
            .expect("staging image"),
        &[0xab; 65536],
        1 << 20,
    )
    .expect("write");
    let third = crate::one_sync_run(&cfg, &row, None).await;
    assert_eq!(failures(&third).len(), 1, "{third:?}");

    let events = crate::sync_run(&cfg, &row, None, true).await;
    assert!(failures(&events).is_empty(), "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::StartedOver { attempt: 2, .. })),
        "{events:?}"
    );
    assert_eq!(rounds_verified(&events), [1], "round 1 again: {events:?}");
    let line = format!("removed the new image's warm-sync snapshots {staging}@stackmigrate-sync-2");
    assert!(said(&events).contains(&line), "{line}\n{}", said(&events));
    assert_eq!(snaps(new_cluster, &staging), ["stackmigrate-sync-1"]);
    let source = format!("volume-{}", row.volume.id);
    assert_eq!(snaps(cluster(&cfg.old_cloud), &source), ["stackmigrate-sync-1"]);

    let cut = crate::one_sync_run(&cfg, &row, Some(true)).await;
    assert!(failures(&cut).is_empty(), "{cut:?}");
    let made = new_volumes(&cfg).await;
    assert_eq!(made.len(), 1, "Cinder adopted the fresh copy: {made:?}");
    assert!(snaps(new_cluster, &format!("volume-{}", made[0])).is_empty());
}

//! The demo end to end, and the faults it can inject: a failed export that a
//! retry fixes, a quota 413 that is reported, a token expiry that is invisible.

use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, RunSetup, Stage};
use stackmigrate::openstack::Session;
use stackmigrate::sim::{Faults, SimClouds, SimOptions};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn headless_demo_migrates_every_healthy_volume() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(["demo", "--headless", "--json", "--throttle", "0", "--work-dir"])
        .arg(dir.path())
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    // The story's last run (the cutover) counts every volume.
    let finished = events
        .iter()
        .rev()
        .find(|e| e["event"] == "finished")
        .expect("finished");
    assert_eq!(
        (finished["verified"].as_u64(), finished["total"].as_u64()),
        (Some(11), Some(11)),
        "the volume in error is not selectable"
    );
    assert_eq!(
        events.iter().filter(|e| e["event"] == "usage_month").count(),
        24,
        "two years of usage"
    );
    let report = std::fs::read_dir(dir.path().join("work"))
        .expect("work")
        .flatten()
        .next()
        .expect("project dir")
        .path();
    let md = std::fs::read_to_string(report.join("report.md")).expect("report");
    assert!(md.contains("11 verified"), "{md}");
    assert!(report.join("usage/latest/monthly.csv").is_file() && report.join("inventory.json").is_file());
    assert_eq!(
        std::fs::read_dir(dir.path().join("new-pool")).expect("pool").count(),
        11,
        "11 volume files in the new pool"
    );
}

/// The servers keep writing, so their volumes are warm-synced: round 1 in
/// the first run, one more with `--sync`, then the servers are stopped and
/// `--cutover` verifies them; the report says so, and no snapshot is left.
#[test]
fn headless_demo_warm_syncs_in_use_volumes_and_cuts_them_over() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(["demo", "--headless", "--json", "--throttle", "0", "--work-dir"])
        .arg(dir.path())
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let story: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "demo")
        .filter_map(|e| e["line"].as_str())
        .collect();
    assert_eq!(story.len(), 4, "{story:#?}");
    assert!(story[2].contains("stopping db-1, web-1"), "{story:#?}");
    let finished: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "finished").collect();
    assert_eq!(finished.len(), 3, "migrate, --sync, --cutover");
    assert_eq!(
        (finished[0]["verified"].as_u64(), finished[0]["synced"].as_u64()),
        (Some(8), Some(3)),
        "the first run leaves the volumes of ACTIVE servers synced"
    );
    let rounds = |n: u64| {
        events
            .iter()
            .filter(|e| e["event"] == "sync_round" && e["round"] == n)
            .count()
    };
    assert_eq!(
        (rounds(1), rounds(2), rounds(3)),
        (3, 3, 3),
        "round 1, --sync, the final round"
    );
    let project = std::fs::read_dir(dir.path().join("work"))
        .expect("work")
        .flatten()
        .next()
        .expect("project dir")
        .path();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("report.json")).expect("report")).expect("json");
    let volumes = report["volumes"].as_array().expect("volumes");
    let row = |name: &str| volumes.iter().find(|v| v["name"] == name).expect(name);
    for name in ["db-data", "web-root", "logs"] {
        let v = row(name);
        assert_eq!(v["state"], "cleaned", "{v}");
        assert!(v["sync_rounds"].as_u64() >= Some(2), "{v}");
        assert_eq!(v["forced_cutover"], false, "{v}");
        assert!(
            v["point_in_time"]
                .as_str()
                .is_some_and(|p| p.contains("source stopped or detached")),
            "{v}"
        );
    }
    let cold = row("ml-datasets");
    assert_eq!(
        (cold["sync_rounds"].as_u64(), &cold["state"]),
        (Some(0), &"cleaned".into()),
        "gpu-1 is SHUTOFF: one pass"
    );
    for pool in ["old-pool", "new-pool"] {
        let snaps: Vec<String> = std::fs::read_dir(dir.path().join(pool))
            .expect("pool")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains('@'))
            .collect();
        assert!(snaps.is_empty(), "no snapshot left in {pool}: {snaps:?}");
    }
}

/// The simulated clouds with their defaults, in a fresh directory (kept
/// while the returned `TempDir` lives).
pub async fn default_sim() -> (tempfile::TempDir, SimClouds) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("sim");
    (dir, sim)
}

/// The demo project's setup and its migratable volumes, as `migrate` picks them.
pub async fn prepare(cfg: &stackmigrate::config::Config) -> (RunSetup, Vec<stackmigrate::openstack::Volume>) {
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let (project, rows) = crate::research_rows(&old).await;
    let all: Vec<_> = rows.into_iter().map(|r| r.volume).collect();
    let volumes = stackmigrate::cli::select(&all, "all").expect("select");
    (RunSetup::new(cfg, old, new, project, None).expect("setup"), volumes)
}

/// Every volume of the demo project through the engine with `cfg`: every
/// event (the last is `Finished`) and how many volumes ran.
pub async fn run_all(cfg: &stackmigrate::config::Config) -> (Vec<EngineEvent>, usize) {
    let (setup, volumes) = prepare(cfg).await;
    let total = volumes.len();
    let mut running = setup.start(cfg, volumes, Default::default()).await.expect("start");
    let mut events = Vec::new();
    while let Some(e) = running.events.recv().await {
        events.push(e);
    }
    running.engine.await.expect("join").expect("engine");
    (events, total)
}

/// Runs the whole demo project through the engine with `faults`; `on_event`
/// may send commands. Returns every event.
async fn run(
    faults: Faults,
    throttle: Option<u64>,
    mut on_event: impl FnMut(&EngineEvent, &tokio::sync::mpsc::Sender<EngineCommand>),
) -> (Vec<EngineEvent>, SimClouds, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        faults,
        throttle_mib_s: throttle,
        ..Default::default()
    })
    .await
    .expect("sim");
    let cfg = sim.config.clone();
    let (setup, volumes) = prepare(&cfg).await;
    let mut running = setup
        .start(
            &cfg,
            volumes,
            stackmigrate::engine::RunOptions {
                stay_alive: true,
                ..Default::default()
            },
        )
        .await
        .expect("start");
    let mut events = Vec::new();
    while let Some(e) = running.events.recv().await {
        on_event(&e, &running.commands);
        events.push(e);
    }
    running.engine.await.expect("join").expect("engine");
    (events, sim, dir)
}

fn settled_all(
    events: &[EngineEvent],
    commands: &tokio::sync::mpsc::Sender<EngineCommand>,
    phases: &mut std::collections::HashMap<String, Phase>,
    e: &EngineEvent,
) {
    if let EngineEvent::StateChanged { volume, phase } = e {
        phases.insert(volume.clone(), *phase);
    }
    let _ = events;
    let planned = 11;
    let done = phases
        .values()
        .filter(|p| matches!(p, Phase::Cleaned | Phase::Failed | Phase::BackupFailed | Phase::Aborted))
        .count();
    if phases.len() == planned && done == planned {
        let _ = commands.try_send(EngineCommand::Shutdown);
    }
}

/// [`settled_all`], where the first failure is retried at once: not settled
/// until the retry ends (a shutdown would drop a retry queued behind its task).
fn settled_all_but_retried(
    commands: &tokio::sync::mpsc::Sender<EngineCommand>,
    phases: &mut std::collections::HashMap<String, Phase>,
    e: &EngineEvent,
    retried: &mut bool,
) {
    if let EngineEvent::StateChanged {
        volume,
        phase: Phase::Failed,
    } = e
    {
        assert!(!*retried, "fails once only");
        *retried = true;
        let _ = commands.try_send(EngineCommand::Retry(volume.clone()));
        phases.insert(volume.clone(), Phase::Queued);
        return;
    }
    settled_all(&[], commands, phases, e);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_export_failure_is_fixed_by_a_retry() {
    let mut phases = std::collections::HashMap::new();
    let mut retried = false;
    let (events, _sim, _dir) = run(Faults::builder().export_fail("wiki"), None, |e, cmd| {
        settled_all_but_retried(cmd, &mut phases, e, &mut retried);
    })
    .await;
    assert!(retried, "the export failure was reported");
    let failed = events.iter().find_map(|e| match e {
        EngineEvent::VolumeFailed { error, .. } => Some(error.clone()),
        _ => None,
    });
    assert!(
        failed.as_deref().is_some_and(|m| m.contains("injected fault")),
        "{failed:?}"
    );
    let EngineEvent::Finished(s) = events.last().expect("events") else {
        panic!("last event is Finished")
    };
    let failures: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::VolumeFailed { .. }))
        .collect();
    assert_eq!((s.verified, s.failed), (11, 0), "{s:?} {failures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quota_413_is_reported_and_the_rest_carries_on() {
    let mut phases = std::collections::HashMap::new();
    let (events, _sim, _dir) = run(Faults::builder().quota("scratch"), None, |e, cmd| {
        settled_all(&[], cmd, &mut phases, e)
    })
    .await;
    let failure = events.iter().find_map(|e| match e {
        EngineEvent::VolumeFailed { stage, error, .. } => Some((*stage, error.clone())),
        _ => None,
    });
    let (stage, error) = failure.expect("a failure");
    assert_eq!(stage, Stage::Import);
    assert!(
        error.contains("VolumeSizeExceedsAvailableQuota") && error.contains("raise the new project's volume quota"),
        "{error}"
    );
    let EngineEvent::Finished(s) = events.last().expect("events") else {
        panic!("last event is Finished")
    };
    assert_eq!((s.verified, s.failed), (10, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_renewed_without_anyone_noticing() {
    let mut phases = std::collections::HashMap::new();
    // Throttled so that the run outlives the token.
    let (events, sim, _dir) = run(
        Faults::builder().token_expiry(Duration::from_millis(1500)),
        Some(64),
        |e, cmd| settled_all(&[], cmd, &mut phases, e),
    )
    .await;
    let EngineEvent::Finished(s) = events.last().expect("events") else {
        panic!("last event is Finished")
    };
    assert_eq!((s.verified, s.failed), (11, 0), "{s:?}");
    assert!(!events.iter().any(|e| matches!(e, EngineEvent::VolumeFailed { .. })));
    let issued = sim.new.lock().map(|s| s.tokens_issued).unwrap_or(0);
    assert!(
        issued >= 2,
        "the new cloud issued a fresh token after the expiry ({issued})"
    );
}

/// A tmpfs of a fixed size, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("mkdir");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount");
        assert!(
            ok.success(),
            "mounting a tmpfs needs root (the test machines run as root)"
        );
        Self(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_wait_for_room_in_a_small_export_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        // Exports at full speed, imports slow: the exports outrun what cleanup
        // frees, so the dir fills up whatever the machine's load.
        import_mib_s: Some(24),
        ..Default::default()
    })
    .await
    .expect("sim");
    let mut cfg = sim.config.clone();
    let small = dir.path().join("small");
    let _disk = SmallDisk::mount(&small, "128m");
    cfg.export_dir = Some(small);
    let (setup, volumes) = prepare(&cfg).await;
    let checks = setup
        .preflight(&cfg, &volumes, &tokio_util::sync::CancellationToken::new(), None)
        .await;
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    let mut running = setup.start(&cfg, volumes, Default::default()).await.expect("start");
    let (mut waited, mut failures) = (false, Vec::new());
    while let Some(e) = running.events.recv().await {
        match &e {
            EngineEvent::Log { line, .. } => waited |= line.contains("waiting for"),
            EngineEvent::VolumeFailed { .. } => failures.push(format!("{e:?}")),
            _ => {}
        }
    }
    let summary = running.engine.await.expect("join").expect("engine");
    assert_eq!(
        (summary.verified, summary.failed),
        (11, 0),
        "{summary:?}: {failures:#?}"
    );
    assert!(
        waited,
        "with 128 MiB for ~270 MiB of exports, some export had to wait for room"
    );
}

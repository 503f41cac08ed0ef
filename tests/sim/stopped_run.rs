//! A run stopped (`q`, Ctrl-C) before some volumes started: those stay
//! queued (journaled as planned when the run began, so the next run offers
//! them for resume), and the report says "not started", not "aborted": the
//! operator aborted nothing there. A volume the operator aborted while it waited is
//! still "aborted", even when the stop follows at once. The next run copies
//! every one of them.

use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, RunOptions};
use stackmigrate::sim::{SimClouds, SimOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_leaves_volumes_that_never_started_queued_and_says_not_started() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        // The first export takes 1-3 s: the stop comes while it runs.
        export_mib_s: Some(4),
        ..Default::default()
    })
    .await
    .expect("sim");
    let mut cfg = sim.config.clone();
    cfg.concurrency.exports = 1;
    let (setup, all) = crate::demo_run::prepare(&cfg).await;
    let named = |n: &str| all.iter().find(|v| v.name.as_deref() == Some(n)).expect(n).clone();
    let volumes = vec![named("scratch"), named("wiki"), named("ci-cache")];
    let opts = RunOptions {
        stay_alive: true,
        ..Default::default()
    };
    let mut running = setup.start(&cfg, volumes.clone(), opts).await.expect("start");
    let commands = running.commands.clone();
    // Whichever takes the one export slot first is stopped mid-export; the
    // operator aborts one of the two waiting and stops the run at once (`x`,
    // then `q`: the stop may come before the abort lands); the last never
    // starts.
    let (mut waiting, mut untouched) = (None::<String>, None::<String>);
    let mut events = Vec::new();
    while let Some(e) = running.events.recv().await {
        match &e {
            EngineEvent::StateChanged {
                volume,
                phase: Phase::Exporting,
            } if waiting.is_none() => {
                let mut rest = volumes.iter().filter(|v| &v.id != volume).map(|v| v.id.clone());
                waiting = rest.next();
                untouched = rest.next();
                let abort = EngineCommand::Abort(waiting.clone().expect("two others"));
                commands.try_send(abort).expect("abort");
                commands.try_send(EngineCommand::Shutdown).expect("shutdown");
            }
            _ => {}
        }
        events.push(e);
    }
    running.engine.await.expect("join").expect("engine");
    let (waiting, untouched) = (waiting.expect("an export started"), untouched.expect("a third"));
    // The usage archive's events may follow the engine's last.
    let Some(s) = events.iter().find_map(|e| match e {
        EngineEvent::Finished(s) => Some(s),
        _ => None,
    }) else {
        panic!("the engine finished: {events:#?}")
    };
    assert_eq!(
        (s.verified, s.aborted, s.not_started),
        (0, 2, 1),
        "one stopped mid-export, one aborted by the operator, one never started: {s:?}"
    );
    let changed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, EngineEvent::StateChanged { volume, .. } if volume == &untouched))
        .collect();
    assert!(changed.is_empty(), "the third never changed state: {changed:?}");
    let project_dir = std::path::Path::new(&s.report_md).parent().expect("project dir");
    let journal = std::fs::read_to_string(project_dir.join("journal.jsonl")).expect("journal");
    let lines: Vec<&str> = journal.lines().filter(|l| l.contains(&untouched)).collect();
    assert!(
        lines.len() == 1 && lines[0].contains("\"t\":\"planned\""),
        "the third is only known as planned:\n{journal}"
    );
    // Known, still queued: the dashboard ticks it to resume with the others.
    let records = stackmigrate::engine::Journal::read(&project_dir.join("journal.jsonl")).expect("read");
    let phases: Vec<Phase> = volumes
        .iter()
        .map(|v| {
            records
                .iter()
                .find(|r| r.id == v.id)
                .expect("every volume journaled")
                .phase
        })
        .collect();
    assert!(
        phases.iter().all(|p| *p != Phase::Cleaned),
        "all three unfinished: {phases:?}"
    );
    let third = records.iter().find(|r| r.id == untouched).expect("the third");
    assert_eq!(third.phase, Phase::Queued);
    let md = std::fs::read_to_string(&s.report_md).expect("report.md");
    assert!(
        md.contains("1 volume(s) not started: the run was stopped first"),
        "{md}"
    );
    let row = md.lines().find(|l| l.contains(&untouched)).expect("the third's row");
    assert!(row.contains("not started"), "{row}");
    let row = md
        .lines()
        .find(|l| l.contains(&waiting))
        .expect("the aborted one's row");
    assert!(row.contains("aborted"), "{row}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&s.report_json).expect("report.json")).expect("json");
    assert_eq!(json["totals"]["not_started"], 1, "{json}");
    assert_eq!(
        stackmigrate::exit_codes::of_run(s, true),
        stackmigrate::exit_codes::ATTENTION,
        "a stopped run is not a finished one"
    );

    // The next run copies all three, the one never started included.
    cfg.concurrency.exports = 3;
    let (setup, _) = crate::demo_run::prepare(&cfg).await;
    let mut running = setup.start(&cfg, volumes, Default::default()).await.expect("start");
    let mut finished = None;
    while let Some(e) = running.events.recv().await {
        if let EngineEvent::Finished(s) = e {
            finished = Some(s);
        }
    }
    running.engine.await.expect("join").expect("engine");
    let s = finished.expect("the engine finished");
    assert_eq!((s.verified, s.aborted, s.not_started, s.failed), (3, 0, 0, 0), "{s:?}");
}

//! A crash right after a cutover's final round is verified, and the export
//! file gone by the next run (deleted, a disk replaced): the re-run reads the
//! file back from the new image and finishes. It never exports the source
//! afresh, which a server may be writing to again (a forced cutover here).

use stackmigrate::engine::{EngineEvent, Phase};
use stackmigrate::openstack::Session;
use stackmigrate::sim::{SimClouds, SimOptions};

fn reached(events: &[EngineEvent], id: &str, wanted: Phase) -> bool {
    events
        .iter()
        .any(|e| matches!(e, EngineEvent::StateChanged { volume, phase } if volume == id && *phase == wanted))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_over_volume_whose_export_file_is_gone_is_finished_from_the_new_image() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        live_servers: true,
        ..Default::default()
    })
    .await
    .expect("sim");
    let cfg = sim.config.clone();
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let (project, row) = crate::in_use_row(&old).await;
    let id = row.volume.id.clone();
    let events = crate::one_sync_run(&cfg, &row, Some(true)).await;
    assert!(reached(&events, &id, Phase::Done), "cut over and finished: {events:?}");

    // The crash: the journal ends with the cutover's final round verified.
    let journal_path = cfg.work_dir.join(&project.id).join("journal.jsonl");
    let journal = std::fs::read_to_string(&journal_path).expect("journal");
    let cut = journal.find("\"t\":\"cutover_verified\"").expect("cutover_verified");
    let end = cut + journal[cut..].find('\n').expect("line end") + 1;
    std::fs::write(&journal_path, &journal[..end]).expect("cut the journal");
    let export = cfg
        .export_dir
        .as_ref()
        .expect("export dir")
        .join(&project.id)
        .join(format!("volume-{id}.raw"));
    assert!(!export.exists(), "the first run deleted it once done");

    let events = crate::one_sync_run(&cfg, &row, Some(true)).await;
    assert!(reached(&events, &id, Phase::Done), "finished again: {events:?}");
    assert!(!reached(&events, &id, Phase::Exporting), "exported afresh: {events:?}");
    let logged = |text: &str| {
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::Log { line, .. } if line.contains(text)))
    };
    assert!(logged("is missing: reading it back from"), "{events:?}");
    assert!(logged("export file read back: matches round"), "{events:?}");
}

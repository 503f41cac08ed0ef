//! Faults: a 413 on create, a failing tape command, and a tampered new
//! image (an export stopped midway: `export_stopped`).

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{EngineEvent, MemoryLedger, Stage, VolumeExport};
use stackmigrate::openstack::{Cinder, Volume};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn over_quota_create_fails_the_import_with_cinder_s_message() {
    let tb = Testbed::get();
    let r = rig(&tb, ImportStrategy::Replace, None);
    let huge: Volume = serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-4000-8000-000000000413", "size": 5000, "status": "available", "name": "huge"
    }))
    .expect("volume");
    let export = VolumeExport {
        path: r.export_dir().join("none.raw"),
        size: 5000 * GIB,
        data_bytes: 0,
        hash: "x".into(),
        staged: false,
        taken_at: None,
        live: false,
        locked: false,
        sync_snap: false,
        no_file: false,
        streamed_tape: None,
        read_back: None,
    };
    let e = r
        .pipeline
        .import(&huge, &export, &MemoryLedger::default(), &CancellationToken::new())
        .await
        .expect_err("413");
    assert_eq!(e.stage, Stage::Import);
    assert!(
        e.message.contains("VolumeSizeExceedsAvailableQuota")
            && e.message.contains("raise the new project's volume quota"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_tape_and_a_tampered_image_are_reported_and_nothing_is_deleted() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("tape fails"), 1, &[(0, noise(7, 2 << 20))], false).await;
    let tape = vec![
        "sh".into(),
        "-c".into(),
        "echo 'tape drive offline' >&2; exit 3".into(),
        "{file}".into(),
    ];
    let r = rig(&tb, ImportStrategy::Replace, Some(tape));
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    let (imported, taped) = r
        .pipeline
        .import_and_tape(&src, &export, &MemoryLedger::default(), &cancel)
        .await;
    let imported = imported.expect("the import does not depend on the tape");
    let e = taped.expect_err("tape fails");
    assert_eq!(e.stage, Stage::Tape);
    assert!(
        e.message.contains("tape drive offline") && e.message.contains("export is kept"),
        "{e}"
    );

    // Tamper with the new image, then verify again.
    let new_conf = tb.var("NEW_CEPH_CONF");
    write_regions(
        &new_conf,
        &format!("volume-{}", imported.new_id),
        GIB,
        &[(4096, b"tampered".to_vec())],
    );
    let e = r
        .pipeline
        .verify(&src, &export, &imported.new_id, &cancel)
        .await
        .expect_err("mismatch");
    assert_eq!(e.stage, Stage::Verify);
    assert!(
        e.message.contains("checksum mismatch") && e.message.contains("nothing was deleted"),
        "{e}"
    );
    assert!(export.path.exists(), "the export is kept");
    let op = tb.operator("new");
    assert!(
        Cinder::new(&op).get_volume(&imported.new_id).await.is_ok(),
        "the new volume is kept"
    );
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&op, &[&imported.new_id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_staging_image_falls_back_to_the_export_file() {
    let tb = Testbed::get();
    let data = noise(21, 3 << 20);
    let src = source_volume(
        &tb,
        &unique("lost stage"),
        1,
        &[(GIB - 5000, data[..5000].to_vec())],
        false,
    )
    .await;
    let mut r = rig(&tb, ImportStrategy::Replace, None);
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    assert!(export.staged, "streamed into the new cluster");
    assert!(export.read_back.is_some(), "and read back as it landed");
    let staging = format!("volumes/stackmigrate-{}", src.id);
    let rm = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["rm", "--no-progress", &staging])
        .status()
        .expect("rbd rm");
    assert!(rm.success(), "removed {staging}");
    // A crashed earlier fallback import left its partial image behind.
    let partial = format!("{staging}-partial");
    let left = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["create", "--size", "1G", &partial])
        .status()
        .expect("rbd create");
    assert!(left.success(), "created {partial}");
    let imported = r
        .pipeline
        .import(&src, &export, &MemoryLedger::default(), &cancel)
        .await
        .expect("import from the file");
    assert_eq!(imported.hash, export.hash, "verified against the export");
    let events = r.drain();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EngineEvent::Log { line, .. } if line.starts_with("imported "))),
        "the import read the export file"
    );
    assert!(
        !events.iter().any(
            |e| matches!(e, EngineEvent::Log { line, .. } if line.contains("read back from the new cluster as it was written"))
        ),
        "the image filled from the file is read back itself, not taken on the lost stage's word"
    );
    let ls = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["ls", "volumes"])
        .output()
        .expect("ls");
    let ls = String::from_utf8_lossy(&ls.stdout).to_string();
    assert!(
        !ls.contains(&format!("stackmigrate-{}", src.id)),
        "no staging or partial image left: {ls}"
    );
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&imported.new_id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_refuses_an_image_larger_than_its_cinder_size() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("odd size"), 1, &[(0, noise(31, 1 << 20))], false).await;
    let old_conf = tb.var("OLD_CEPH_CONF");
    // The image outgrew what Cinder records (a resize behind Cinder's back).
    let resize = rbd(&old_conf)
        .args([
            "resize",
            "--no-progress",
            "--size",
            "1049088K",
            &format!("volumes/volume-{}", src.id),
        ])
        .status()
        .expect("rbd resize");
    assert!(resize.success());
    let mut r = rig(&tb, ImportStrategy::Replace, None);
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    assert_eq!(export.size, GIB + (512 << 10));
    let e = r
        .pipeline
        .import(&src, &export, &MemoryLedger::default(), &cancel)
        .await
        .expect_err("refused");
    assert_eq!(e.stage, Stage::Import);
    assert!(
        e.message
            .contains(&format!("holds {} bytes but the volume is 1 GiB", GIB + (512 << 10)))
            && e.message.contains("use the manage strategy"),
        "{e}"
    );
    let staged = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["info", &format!("volumes/stackmigrate-{}", src.id)])
        .output()
        .expect("rbd info");
    assert!(!staged.status.success(), "the unused staging image was removed");
    let op = tb.operator("new");
    let created = Cinder::new(&op)
        .list_volumes(None)
        .await
        .expect("list")
        .into_iter()
        .filter(|v| v.metadata.get("stackmigrate.source_volume_id") == Some(&src.id))
        .count();
    assert_eq!(created, 0, "no new volume was created");
    let _ = r.drain();
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_file_changed_after_a_streamed_export_never_reaches_tape() {
    let tb = Testbed::get();
    let src = source_volume(&tb, &unique("bitrot"), 1, &[(0, noise(41, 2 << 20))], false).await;
    // The default tape command: cp into the rig's tape dir.
    let r = rig(&tb, ImportStrategy::Replace, None);
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await.expect("export");
    assert!(export.staged, "streamed: the import will not read the file");
    // The file rots on disk after it was written and hashed.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&export.path)
            .expect("open");
        f.write_all_at(b"rot", 4096).expect("write");
    }
    let (imported, taped) = r
        .pipeline
        .import_and_tape(&src, &export, &MemoryLedger::default(), &cancel)
        .await;
    let imported = imported.expect("the new image is verified from the stream");
    let e = taped.expect_err("the changed file is refused");
    assert_eq!(e.stage, Stage::Tape);
    assert!(e.message.contains("no longer matches its checksum"), "{e}");
    let copy = r.tape_dir().join(export.path.file_name().expect("name"));
    assert!(!copy.exists(), "nothing went to tape");
    assert!(export.path.exists(), "the export is kept");
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&imported.new_id]).await;
}

/// Pauses (`ceph osd pause`: the clients hold every read and write) or
/// unpauses the new cluster: a cluster that hangs, then answers again. (A
/// SIGSTOP of its OSD left its placement group laggy, with ops blocked for
/// good, now and then.)
pub(crate) fn new_cluster_paused(tb: &Testbed, paused: bool) {
    let verb = if paused { "pause" } else { "unpause" };
    let out = std::process::Command::new("ceph")
        .args(["--conf", &tb.var("NEW_CEPH_CONF"), "--id", "admin", "osd", verb])
        .output()
        .expect("ceph");
    assert!(out.status.success(), "ceph osd {verb}: {}", text(&out.stderr));
}

/// Unpauses the new cluster when dropped, whatever happens to the test, so
/// that no other test hangs.
pub(crate) struct Unpause(pub Testbed);

impl Drop for Unpause {
    fn drop(&mut self) {
        new_cluster_paused(&self.0, false);
    }
}

/// Sets (`Some(bytes per second)`) or removes librbd's read and write limit
/// on the old cluster's `image`: a copy of it then lasts seconds, and a
/// pause of the new cluster (which takes about a second to land) falls
/// inside it.
pub(crate) fn source_qos(tb: &Testbed, image: &str, limit: Option<u64>) {
    let spec = format!("volumes/{image}");
    let limit = limit.map(|l| l.to_string());
    let args = match &limit {
        Some(l) => vec!["set", &spec, "rbd_qos_bps_limit", l],
        None => vec!["remove", &spec, "rbd_qos_bps_limit"],
    };
    let out = rbd(&tb.var("OLD_CEPH_CONF"))
        .args(["config", "image"])
        .args(&args)
        .output()
        .expect("rbd config");
    assert!(out.status.success(), "rbd config image {args:?}: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_new_cluster_does_not_hold_the_export() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..16).map(|i| (i * (64 << 20), noise(i + 60, 32 << 20))).collect();
    let src = source_volume(&tb, &unique("hung new"), 1, &regions, false).await;
    let _unpause = Unpause(Testbed::get());
    // 512 MiB at 64 MiB/s: the pause lands mid-stream.
    source_qos(&tb, &format!("volume-{}", src.id), Some(64 << 20));
    let mut r = rig(&tb, ImportStrategy::Replace, None);
    r.pipeline.settings.stage_stall = std::time::Duration::from_secs(2);
    let mut events = std::mem::replace(&mut r.events, tokio::sync::mpsc::channel(1).1);
    // Pause the new cluster once the export moves data; unpause it 8 s later.
    let tb2 = Testbed::get();
    let stopper = tokio::spawn(async move {
        let mut lines = Vec::new();
        let mut stopped = false;
        while let Some(e) = events.recv().await {
            match e {
                EngineEvent::Progress {
                    stage: Stage::Export,
                    bytes,
                    ..
                } if bytes > 0 && !stopped => {
                    new_cluster_paused(&tb2, true);
                    stopped = true;
                    let tb3 = Testbed::get();
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_secs(8)).await;
                        new_cluster_paused(&tb3, false);
                    });
                }
                EngineEvent::Log { line, .. } => lines.push(line),
                _ => {}
            }
        }
        (stopped, lines)
    });
    let cancel = CancellationToken::new();
    let export = r.pipeline.export(&src, &cancel).await;
    let import = match &export {
        Ok(e) => Some(r.pipeline.import(&src, e, &MemoryLedger::default(), &cancel).await),
        Err(_) => None,
    };
    drop(r.pipeline);
    let (stopped, lines) = stopper.await.expect("stopper");
    assert!(stopped, "the new cluster was paused mid-export");
    let export = export.expect("the export completes without the new cluster");
    assert!(!export.staged, "the stalled stream was dropped");
    assert!(lines.iter().any(|l| l.contains("took no data for 2 s")), "{lines:#?}");
    let imported = import
        .expect("import ran")
        .expect("the import reads the file once the cluster is back");
    assert_eq!(imported.hash, export.hash);
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
    delete_volumes(&tb.operator("new"), &[&imported.new_id]).await;
}

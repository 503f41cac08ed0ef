//! An export stopped midway: cancelled, its source's readers killed, or the
//! helper holding a detached source's lock killed. It fails, and leaves no
//! export file, no partial file, no staging image and no snapshot.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{EngineEvent, Stage, VolumeExport};
use stackmigrate::openstack::Volume;
use stackmigrate::storage::sparse_file::partial_path;
use tokio_util::sync::CancellationToken;

type Interrupted = (
    Result<VolumeExport, stackmigrate::engine::StageError>,
    std::path::PathBuf,
);

/// Runs an export and, once it has moved some data, either cancels it
/// (`kill` `None`) or SIGKILLs the processes whose command line matches
/// `kill` and names the source; returns the export's result.
async fn export_interrupted(tb: &Testbed, src: &Volume, kill: Option<&'static str>) -> Interrupted {
    let mut r = rig(tb, ImportStrategy::Replace, None);
    let path = r.pipeline.export_path(src).expect("an export dir");
    let cancel = CancellationToken::new();
    let watcher_cancel = cancel.clone();
    let mut events = std::mem::replace(&mut r.events, tokio::sync::mpsc::channel(1).1);
    let image = format!("volume-{}", src.id);
    let watcher = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let EngineEvent::Progress {
                stage: Stage::Export,
                bytes,
                ..
            } = e
            {
                if bytes > 0 {
                    match kill {
                        Some(which) => {
                            let pattern = format!("{which}.*{image}");
                            let _ = std::process::Command::new("pkill")
                                .args(["-KILL", "-f", &pattern])
                                .status();
                        }
                        None => watcher_cancel.cancel(),
                    }
                    return true;
                }
            }
        }
        false
    });
    let result = r.pipeline.export(src, &cancel).await;
    drop(r.pipeline);
    assert!(
        watcher.await.expect("watcher"),
        "the export was interrupted after moving data"
    );
    (result, path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_stopped_midway_fails_cleanly() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..24).map(|i| (i * (64 << 20), noise(i + 10, 32 << 20))).collect();
    let src = source_volume(&tb, &unique("big"), 2, &regions, false).await;
    // Cancelled; the source's readers killed (`rbd export-diff` and the
    // helper holding a detached source's lock); the lock's holder alone
    // killed: the read ends whole, but the lock is not known to have been
    // held throughout, so the stream's end never reaches the stage.
    for kill in [None, Some("(export-diff|delta reader)"), Some("delta reader")] {
        // A killed holder's lock is broken once its watch expires (~30 s).
        let image = format!("volumes/volume-{}", src.id);
        for _ in 0..90 {
            let status = rbd(&tb.var("OLD_CEPH_CONF"))
                .args(["status", "--format", "json", &image])
                .output()
                .expect("rbd status");
            if String::from_utf8_lossy(&status.stdout).contains("\"watchers\":[]") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        let (result, path) = export_interrupted(&tb, &src, kill).await;
        let e = result.expect_err("interrupted export must fail");
        assert_eq!(e.stage, Stage::Export, "{e}");
        if kill == Some("delta reader") {
            assert!(
                e.message.contains("exclusive lock") && e.message.contains("migrate it again"),
                "{e}"
            );
        }
        if kill.is_none() {
            assert!(e.message.contains("cancelled"), "{e}");
        }
        assert!(!path.exists(), "no file under the final name");
        assert!(!partial_path(&path).exists(), "no partial file left");
        let staged = rbd(&tb.var("NEW_CEPH_CONF"))
            .args(["info", &format!("volumes/stackmigrate-{}", src.id)])
            .output()
            .expect("rbd info");
        assert!(
            !staged.status.success(),
            "no half-streamed staging image left on the new cluster"
        );
    }
    assert!(
        snaps(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", src.id)).is_empty(),
        "snapshot removed after the failure"
    );
    delete_volumes(&tb.operator("old"), &[&src.id]).await;
}

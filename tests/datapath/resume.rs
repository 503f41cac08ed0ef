//! kill -9 of `stackmigrate migrate` during export, during import and during
//! the tape copy, each followed by a re-run: in the end exactly one new
//! volume per source, verified against the source's checksum.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_export_import_and_tape_then_resume() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..4)
        .map(|i| (i * (200 << 20) + 4096, noise(60 + i, 24 << 20)))
        .collect();
    let a = source_volume(&tb, &unique("resume a"), 1, &regions, false).await;
    let b = source_volume(&tb, &unique("resume b"), 1, &regions[..2], true).await;
    let dir = tempfile::tempdir().expect("tmp");
    // A slow tape, so that the kill lands while it runs.
    let tape_dir = dir.path().join("tape");
    let tape = vec![
        "sh".into(),
        "-c".into(),
        format!("sleep 3; cp --sparse=always \"$1\" {}/", tape_dir.display()),
        "tape".into(),
        "{file}".into(),
    ];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false).display().to_string();
    let ids = format!("{},{}", a.id, b.id);
    for stage in ["export", "import", "tape"] {
        let (killed, _) = migrate_signalled(dir.path(), &cfg, &ids, stage, "KILL");
        assert!(killed, "the run reached {stage}");
    }
    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &ids,
            "--yes",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for v in [&a, &b] {
        let copies = copies_of(&tb, &v.id).await;
        assert_eq!(copies.len(), 1, "exactly one new volume for {}: {copies:?}", v.id);
        assert_eq!(
            copies[0].metadata.get("stackmigrate.state").map(String::as_str),
            Some("verified")
        );
        let source = image_hash(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)).await;
        assert_eq!(
            image_hash(&tb.var("NEW_CEPH_CONF"), &format!("volume-{}", copies[0].id)).await,
            source
        );
        assert_eq!(
            file_hash(&tape_dir.join(format!("volume-{}.raw", v.id))).await,
            source,
            "tape copy"
        );
    }
    let news: Vec<String> = [&a, &b].iter().map(|v| v.id.clone()).collect();
    let mut new_ids = Vec::new();
    for s in &news {
        new_ids.extend(copies_of(&tb, s).await.into_iter().map(|v| v.id));
    }
    delete_volumes(&tb.operator("old"), &[&a.id, &b.id]).await;
    delete_volumes(
        &tb.operator("new"),
        &new_ids.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
}

//! `--no-export-file` on the real testbed: each export streams straight into
//! the new cluster and the tape reads the same stream on stdin; `kill -9`
//! mid-export restarts the copy; the tape's stream restores with
//! `rbd import-diff` to the source's bytes; a `{file}` tape is refused.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_to_the_new_cluster_and_tape_restarts_after_kill_9_and_the_tape_restores() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..4)
        .map(|i| (i * (200 << 20) + 4096, noise(90 + i, 24 << 20)))
        .collect();
    let v = source_volume(&tb, &unique("no file"), 1, &regions, false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let tape_dir = dir.path().join("tape");
    // Each run's stream lands in its own file, named in time order.
    let tape = vec![
        "sh".to_string(),
        "-c".to_string(),
        format!("cat > {}/$(date +%s%N).diff", tape_dir.display()),
    ];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false).display().to_string();
    let (killed, _) = migrate_signalled_with(dir.path(), &cfg, &v.id, &["--no-export-file"], "export", "KILL");
    assert!(killed, "the first run reached the export");
    let stdout = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--no-export-file"]), 0);
    assert!(stdout.contains("no export file"), "{stdout}");
    let exports = dir.path().join("exports");
    let left: Vec<_> = walk(&exports);
    assert!(left.is_empty(), "no export file written: {left:?}");

    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1, "exactly one new volume: {copies:?}");
    let source = image_hash(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)).await;
    let new_conf = tb.var("NEW_CEPH_CONF");
    assert_eq!(image_hash(&new_conf, &format!("volume-{}", copies[0].id)).await, source);
    let staged = rbd(&new_conf)
        .args(["info", &format!("volumes/stackmigrate-{}", v.id)])
        .output()
        .expect("rbd info");
    assert!(!staged.status.success(), "no staging image left");

    // The last tape stream is the good one: restore it into a fresh image.
    let mut streams = walk(&tape_dir);
    streams.sort();
    let last = streams.last().expect("a tape stream");
    let restore = format!("volumes/restore-{}", v.id);
    let ok = |o: std::process::Output| assert!(o.status.success(), "{}", text(&o.stderr));
    ok(rbd(&new_conf)
        .args(["create", "--size", "1G", &restore])
        .output()
        .expect("create"));
    ok(rbd(&new_conf)
        .args(["import-diff", "--no-progress", &last.display().to_string(), &restore])
        .output()
        .expect("import-diff"));
    assert_eq!(
        image_hash(&new_conf, &format!("restore-{}", v.id)).await,
        source,
        "tape restores"
    );
    ok(rbd(&new_conf)
        .args(["rm", "--no-progress", &restore])
        .output()
        .expect("rm"));

    // A tape that needs the file is refused before anything runs.
    let file_cfg = dir.path().join("file-tape");
    std::fs::create_dir_all(&file_cfg).expect("dir");
    let cfg = migrate_config(&tb, &file_cfg, None, false).display().to_string();
    let out = migrate(dir.path(), &cfg, &v.id, &["--no-export-file"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("tape.command") && err.contains("{file}"), "{err}");

    delete_volumes(&tb.operator("old"), &[&v.id]).await;
    delete_volumes(&tb.operator("new"), &[&copies[0].id]).await;
}

/// Regular files under `dir` (none if it does not exist).
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

//! A cutover's final round, read back as it is written, is verified once
//! every extent is read back: the new image's writer then still removes the
//! image's warm-sync snapshots (a monitor proposal, up to a second), and the
//! caller waits for that only after the volume is verified. A removal that
//! fails (here a protected snapshot) does not undo the verified round: it is
//! said when the removal is waited for, and the engine then retries it.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::storage::{BlockStore, Counter, DeltaRound, Extents};
use std::process::Command;
use tokio_util::sync::CancellationToken;

fn sh(conf: &str, args: &[&str]) {
    let out = rbd(conf).args(args).output().expect("rbd");
    assert!(out.status.success(), "rbd {args:?}: {}", text(&out.stderr));
}

/// The test's images on both clusters, removed also when an assertion fails.
struct Images<'a> {
    confs: [&'a str; 2],
    spec: String,
}

impl Drop for Images<'_> {
    fn drop(&mut self) {
        let protected = format!("{}@stackmigrate-sync-9", self.spec);
        let _ = rbd(self.confs[1]).args(["snap", "unprotect", &protected]).output();
        for conf in self.confs {
            let _ = rbd(conf).args(["snap", "purge", "--no-progress", &self.spec]).output();
            let _ = rbd(conf).args(["rm", "--no-progress", &self.spec]).output();
        }
    }
}

#[tokio::test]
async fn a_final_round_is_verified_before_the_new_images_snapshots_are_gone() {
    let tb = Testbed::get();
    let (old_conf, new_conf) = (tb.var("OLD_CEPH_CONF"), tb.var("NEW_CEPH_CONF"));
    let image = unique("snapdrop").replace(' ', "-");
    let spec = format!("volumes/{image}");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("export.raw");
    let _images = Images {
        confs: [&old_conf, &new_conf],
        spec: spec.clone(),
    };
    // After round 1: sync-1 on both images, the export file equal to it.
    sh(&old_conf, &["create", "--size", "64M", &spec]);
    write_regions(
        &old_conf,
        &image,
        64 << 20,
        &[(0, noise(1, 8 << 20)), (40 << 20, noise(2, 1 << 20))],
    );
    sh(
        &old_conf,
        &[
            "snap",
            "create",
            "--no-progress",
            &format!("{spec}@stackmigrate-sync-1"),
        ],
    );
    sh(
        &old_conf,
        &[
            "export",
            "--no-progress",
            &format!("{spec}@stackmigrate-sync-1"),
            file.to_str().expect("a UTF-8 path"),
        ],
    );
    sh(&new_conf, &["create", "--size", "64M", &spec]);
    let copy = format!(
        "rbd --conf {old_conf} --id admin export-diff --no-progress {spec}@stackmigrate-sync-1 - | rbd --conf {new_conf} --id admin import-diff --no-progress - {spec}"
    );
    assert!(Command::new("sh").args(["-c", &copy]).status().expect("sh").success());
    // One the writer cannot remove: a protected snapshot of its prefix.
    sh(
        &new_conf,
        &[
            "snap",
            "create",
            "--no-progress",
            &format!("{spec}@stackmigrate-sync-9"),
        ],
    );
    sh(&new_conf, &["snap", "protect", &format!("{spec}@stackmigrate-sync-9")]);
    write_regions(
        &old_conf,
        &image,
        64 << 20,
        &[(4 << 20, noise(3, 1 << 20)), (50 << 20, noise(4, 65536))],
    );

    let cfg = tb.config();
    let old = BlockStore::for_cloud(&cfg.old_cloud).expect("ceph");
    let new = BlockStore::for_cloud(&cfg.new_cloud).expect("ceph");
    let ahead = (image.as_str(), "stackmigrate-sync-1", "stackmigrate-sync-2");
    let mut helpers = old
        .start_round(&new, ahead, &image, Some("stackmigrate-sync-"))
        .await
        .expect("helpers")
        .expect("rounds are read back as written here");
    helpers.lock_source_now();
    let none = Extents::default();
    let round = DeltaRound {
        image: &image,
        from: "stackmigrate-sync-1",
        to: "stackmigrate-sync-2",
        target: &new,
        target_image: &image,
        file: &file,
        size: 64 << 20,
        snap_target: false,
        dirty: &none,
        strays: &none,
        drop_target_snaps: Some("stackmigrate-sync-"),
        lock_source: true,
        stall: std::time::Duration::from_secs(60),
    };
    let cancel = CancellationToken::new();
    let mut applied = old
        .apply_delta(&round, Some(helpers), Counter::default(), &cancel)
        .await
        .expect("the round is verified: its failed removal comes later");
    assert_eq!(applied.read_back, Some(applied.bytes), "every byte sent was read back");
    assert!(
        applied.bytes >= 1 << 20,
        "the round sent the changes: {}",
        applied.bytes
    );
    assert_eq!(
        image_hash(&old_conf, &image).await,
        image_hash(&new_conf, &image).await,
        "the new image equals the source once the round is verified"
    );
    let drop = applied
        .snap_drop
        .take()
        .expect("the writer still removing the snapshots");
    let why = drop
        .wait()
        .await
        .expect_err("a protected snapshot cannot be removed")
        .to_string();
    assert!(why.contains("stackmigrate-sync-"), "the failed removal is named: {why}");
    assert_eq!(
        snaps(&new_conf, &image),
        ["stackmigrate-sync-9"],
        "the others went: {why}"
    );
}

//! A detached source is exported under its exclusive lock, with no
//! snapshot: no monitor proposal on the copy's path, and no write can land
//! while it is read. A client that holds the lock with the image open is
//! something that writes to a volume Cinder calls detached: the export stops,
//! naming it, and the retry copies what it wrote (and removes an export
//! snapshot a crashed try on the snapshot path left). A source without the
//! exclusive-lock feature is exported from a snapshot, as before.

use super::warm_sync_lock::{hold_lock, lockers, write_dense_8m};
use crate::fixtures::*;
use crate::testbed::{unique, Testbed};

const LOCKED: &str = "read under its exclusive lock (no snapshot, no write possible)";

/// The new copy of `source`, once: verified, and equal to the source's image.
async fn check_copied(tb: &Testbed, source: &str) {
    let copies = copies_of(tb, source).await;
    assert_eq!(copies.len(), 1, "one new volume: {copies:?}");
    assert_eq!(
        copies[0].metadata.get("stackmigrate.state").map(String::as_str),
        Some("verified")
    );
    let old = image_hash(&tb.var("OLD_CEPH_CONF"), &format!("volume-{source}")).await;
    let new = image_hash(&tb.var("NEW_CEPH_CONF"), &format!("volume-{}", copies[0].id)).await;
    assert_eq!(old, new, "the new image holds the source's bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_source_is_read_under_its_lock_and_a_client_holding_it_stops_the_export() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("cold l"), 1, &[(0, noise(71, 8 << 20))], false).await;
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    // Something outside Cinder writes to the detached volume and keeps it open.
    let mut holder = hold_lock(&tb, &image);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 2);
    assert!(
        out.contains("exclusive lock") && out.contains("holds it and has the image open"),
        "the export names the lock's holder: {out}"
    );
    assert!(out.contains("migrate it again"), "and the next step: {out}");
    for c in copies_of(&tb, &v.id).await {
        assert_ne!(
            c.metadata.get("stackmigrate.state").map(String::as_str),
            Some("verified")
        );
    }
    assert!(snaps(&conf, &image).is_empty(), "no snapshot was taken");
    drop(holder.stdin.take());
    assert!(holder.wait().expect("holder").success());
    // Written after the failed try: the retry copies it.
    write_dense_8m(&conf, &image);
    // As a try killed on the snapshot path (an older version's, or while the
    // volume was attached) leaves it: the copy under the lock removes it.
    let left = rbd(&conf)
        .args(["snap", "create", &format!("volumes/{image}@stackmigrate-export")])
        .output()
        .expect("rbd snap create");
    assert!(left.status.success(), "{}", text(&left.stderr));
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 0);
    let log = std::fs::read_to_string(dir.path().join("stackmigrate.log")).expect("log");
    assert!(log.contains(&format!("exported {image}, {LOCKED}")), "{log}");
    assert!(
        log.contains(&format!(
            "removed snapshot {image}@stackmigrate-export, left by an earlier try"
        )),
        "{log}"
    );
    assert!(
        snaps(&conf, &image).is_empty(),
        "no snapshot taken, and the one left removed"
    );
    assert_eq!(lockers(&conf, &image), "[]", "the source's lock was released");
    check_copied(&tb, &v.id).await;
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_without_the_exclusive_lock_feature_is_exported_from_a_snapshot() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("cold f"), 1, &[(0, noise(72, 8 << 20))], false).await;
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    let off = rbd(&conf)
        .args(["feature", "disable", &format!("volumes/{image}")])
        .args(["fast-diff", "object-map", "exclusive-lock"])
        .output()
        .expect("rbd feature disable");
    assert!(off.status.success(), "feature disable: {}", text(&off.stderr));
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 0);
    let log = std::fs::read_to_string(dir.path().join("stackmigrate.log")).expect("log");
    assert!(log.contains(&format!("exported {image}@stackmigrate-export:")), "{log}");
    assert!(!log.contains(LOCKED), "{log}");
    let r = super::warm_sync::report(dir.path());
    assert!(
        r["volumes"][0]["point_in_time"]
            .as_str()
            .is_some_and(|p| p.ends_with("(source not written by a running server)")),
        "{r}"
    );
    assert!(snaps(&conf, &image).is_empty(), "the export's snapshot was removed");
    check_copied(&tb, &v.id).await;
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

/// While the export reads a detached source under its lock, another
/// client's write fails (EROFS) instead of landing half-way through the
/// read: the copy is the image at the lock, and the source is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_while_the_source_is_read_under_its_lock_fails_and_the_copy_is_the_image_at_the_lock() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("cold w"), 1, &[], false).await;
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    // 512 MiB of data: its read takes long enough to try a write inside it.
    let wrote = rbd(&conf)
        .args(["bench", "--io-type", "write", "--io-pattern", "seq", "--io-size", "4M"])
        .args(["--io-total", "512M", &format!("volumes/{image}")])
        .output()
        .expect("rbd bench");
    assert!(wrote.status.success(), "{}", text(&wrote.stderr));
    let before = image_hash(&conf, &image).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    let run = migrate_cmd(dir.path(), &cfg, &v.id, &[]).spawn().expect("migrate");
    let started = std::time::Instant::now();
    while lockers(&conf, &image) == "[]" {
        assert!(
            started.elapsed().as_secs() < 120,
            "the export never took the source's lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let write = rbd(&conf)
        .args(["bench", "--io-type", "write", "--io-size", "64K", "--io-total", "64K"])
        .arg(format!("volumes/{image}"))
        .output()
        .expect("rbd bench");
    let said = text(&write.stderr);
    assert!(
        !write.status.success(),
        "a write landed while the source was read: {said}"
    );
    assert!(said.contains("Read-only file system"), "refused by the lock: {said}");
    expect_code(&run.wait_with_output().expect("migrate"), 0);
    let log = std::fs::read_to_string(dir.path().join("stackmigrate.log")).expect("log");
    assert!(log.contains(&format!("exported {image}, {LOCKED}")), "{log}");
    assert_eq!(image_hash(&conf, &image).await, before, "the source is unchanged");
    let r = super::warm_sync::report(dir.path());
    assert!(
        r["volumes"][0]["point_in_time"].as_str().is_some_and(|p| p
            .ends_with("(read under the source's exclusive lock, taken just after: no write landed during the read)")),
        "the report says the copy is the image at the lock: {r}"
    );
    check_copied(&tb, &v.id).await;
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

/// A volume Cinder made from a snapshot or an image is an RBD clone: its
/// image holds only what was written since, the rest is its parent's. The
/// copy holds both (librbd reads through to the parent), whole, as `rbd
/// export` of the source reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_source_is_copied_with_its_parents_data() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("cold c"), 1, &[], false).await;
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    let parent = format!("clone-parent-{}", v.id);
    let run = |args: &[&str]| {
        let out = rbd(&conf).args(args).output().expect("rbd");
        assert!(out.status.success(), "rbd {args:?}: {}", text(&out.stderr));
    };
    run(&["create", "--size", "1G", &format!("volumes/{parent}")]);
    // The parent: data in three objects, one of them only half written.
    let parents: Vec<(u64, Vec<u8>)> = vec![(0, noise(91, 6 << 20)), (40 << 20, noise(92, 2 << 20))];
    write_regions(&conf, &parent, GIB, &parents);
    run(&["snap", "create", &format!("volumes/{parent}@base")]);
    run(&["snap", "protect", &format!("volumes/{parent}@base")]);
    // As Cinder's RBD driver makes a volume from a snapshot.
    run(&["rm", "--no-progress", &format!("volumes/{image}")]);
    run(&["clone", &format!("volumes/{parent}@base"), &format!("volumes/{image}")]);
    // Written in the clone since: over the parent's data and beside it.
    write_regions(
        &conf,
        &image,
        GIB,
        &[(1 << 20, noise(93, 64 << 10)), (100 << 20, noise(94, 1 << 20))],
    );
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 0);
    let log = std::fs::read_to_string(dir.path().join("stackmigrate.log")).expect("log");
    assert!(log.contains(&format!("exported {image}, {LOCKED}")), "{log}");
    check_copied(&tb, &v.id).await;
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
    // Cinder removes the clone in the background; the parent's snapshot is
    // protected until then.
    for _ in 0..120 {
        let children = rbd(&conf)
            .args(["children", &format!("volumes/{parent}@base")])
            .output()
            .expect("rbd children");
        if children.status.success() && children.stdout.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    run(&["snap", "unprotect", &format!("volumes/{parent}@base")]);
    run(&["snap", "rm", "--no-progress", &format!("volumes/{parent}@base")]);
    run(&["rm", "--no-progress", &format!("volumes/{parent}")]);
}

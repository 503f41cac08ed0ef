//! Warm sync's guard on the real testbed: the new volume attached, then
//! written to behind stackmigrate's back, between rounds: the sync stops and
//! nothing is deleted; a retry stops at the guard again. The way out is
//! `migrate --start-over`: the volume is copied afresh into a second new
//! volume, the first left alone (without the warm-sync snapshot that kept
//! Cinder from deleting it), and the fresh copy cuts over as usual.

use super::warm_sync::{check_cut_over, remove_source, sync_snaps, write_now, SERVER};
use super::warm_sync_lock::write_new_image;
use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::Cinder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_trips_when_the_new_volume_is_attached_or_written_between_rounds_then_it_starts_over() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("warm g"), 1, &[(0, noise(99, 4 << 20))], false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 3);
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1);
    let new_id = copies[0].id.clone();
    attach(&tb.operator("new"), &new_id, SERVER).await;
    write_now(&tb, &v.id);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 2);
    assert!(
        out.contains("must stay available") && out.contains("nothing was deleted"),
        "{out}"
    );
    // Nothing was deleted: the new volume, its image and both rounds' base are there.
    let new_cloud = tb.operator("new");
    let c = Cinder::new(&new_cloud);
    assert_eq!(c.get_volume(&new_id).await.expect("new volume").status, "in-use");
    assert_eq!(
        snaps(&tb.var("NEW_CEPH_CONF"), &format!("volume-{new_id}")),
        vec!["stackmigrate-sync-1"]
    );
    assert_eq!(
        sync_snaps(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)),
        vec!["stackmigrate-sync-1"]
    );
    // Detached again, but the server wrote to it meanwhile: the retry stops
    // at the guard too (the round it stopped before left no trace that would
    // excuse a write), and nothing is deleted.
    detach(&tb.operator("new"), &new_id).await;
    write_new_image(&tb, &format!("volume-{new_id}"));
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 2);
    assert!(
        out.contains("were written to the new image") && out.contains("nothing was deleted"),
        "{out}"
    );
    // The round's writer saw the write as it opened the image (no rbd asked).
    assert!(!out.contains("asked rbd instead"), "{out}");
    assert_eq!(
        snaps(&tb.var("NEW_CEPH_CONF"), &format!("volume-{new_id}")),
        vec!["stackmigrate-sync-1"]
    );
    // The way out: started over, the volume is copied afresh into a second new
    // volume; the first is left alone, without the snapshot that kept Cinder
    // from deleting it. Once the operator deletes it, the cutover is as usual.
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--start-over"]), 3);
    assert!(out.contains("started over (attempt"), "{out}");
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 2, "{copies:?}");
    let second = copies
        .iter()
        .find(|c| c.id != new_id)
        .expect("a second new volume")
        .id
        .clone();
    assert!(snaps(&tb.var("NEW_CEPH_CONF"), &format!("volume-{new_id}")).is_empty());
    assert_eq!(
        snaps(&tb.var("NEW_CEPH_CONF"), &format!("volume-{second}")),
        vec!["stackmigrate-sync-1"]
    );
    assert_eq!(c.get_volume(&new_id).await.expect("left alone").status, "available");
    c.delete_volume(&new_id).await.expect("Cinder deletes the first copy");
    c.wait_deleted(&new_id, WAIT).await.expect("deleted");
    detach(&tb.operator("old"), &v.id).await;
    expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

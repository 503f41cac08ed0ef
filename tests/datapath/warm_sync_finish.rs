//! After a cutover the warm-sync snapshots go on both sides; one that cannot
//! be removed on the source (Cinder in the old cloud could not delete the
//! volume then) is reported, keeps the export, and a later run removes it.

use super::warm_sync::{check_cut_over, remove_source, report};
use super::warm_sync_lock::synced_once;
use crate::fixtures::*;
use crate::testbed::Testbed;

fn snap_cmd(tb: &Testbed, what: &str, spec: &str) {
    let out = rbd(&tb.var("OLD_CEPH_CONF"))
        .args(["snap", what, spec])
        .output()
        .expect("rbd");
    assert!(out.status.success(), "snap {what}: {}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_snapshot_left_after_a_cutover_is_reported_and_removed_by_a_later_run() {
    let tb = Testbed::get();
    let (v, dir, cfg) = synced_once(&tb, "warm s", 47, 4 << 20).await;
    detach(&tb.operator("old"), &v.id).await;
    // A protected snapshot cannot be removed.
    let spec = format!("volumes/volume-{}@stackmigrate-sync-1", v.id);
    snap_cmd(&tb, "protect", &spec);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 2);
    assert!(out.contains("cannot remove the source's warm-sync snapshots"), "{out}");
    let r = report(dir.path());
    assert!(r["volumes"][0]["snapshots_left"].is_string(), "{r}");
    snap_cmd(&tb, "unprotect", &spec);
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 0);
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

//! A cutover whose source no server writes takes the source's exclusive
//! lock and reads the image itself, with no final snapshot (its monitor
//! proposal is off the window). A client that holds the lock stops the
//! cutover, naming it; a source without the exclusive-lock feature is
//! snapshotted first, as in any other round. A final round with no change
//! leaves the new image's sync snapshots to after the volume is verified.

use super::warm_sync::{check_cut_over, remove_source, write_now, SERVER};
use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::Volume;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// A writer the clouds do not know of: it writes 4 KiB to `image`, which
/// takes the image's exclusive lock as any librbd writer does (it would hand
/// it over if asked), and keeps the image open until its stdin closes;
/// returns once it holds the lock.
pub(crate) fn hold_lock(tb: &Testbed, image: &str) -> Child {
    let script = "import rados, rbd, sys\n\
c = rados.Rados(conffile=sys.argv[1], conf={'keyring': sys.argv[2]})\n\
c.connect()\n\
io = c.open_ioctx('volumes')\n\
with rbd.Image(io, sys.argv[3]) as img:\n    img.write(b'w' * 4096, 0)\n    assert img.is_exclusive_lock_owner()\n    print('locked', flush=True)\n    sys.stdin.read()\n\
io.close()\n\
c.shutdown()\n";
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            script,
            &tb.var("OLD_CEPH_CONF"),
            &tb.var("OLD_CEPH_KEYRING"),
            image,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    let out = child.stdout.take().expect("stdout");
    std::io::BufReader::new(out).read_line(&mut line).expect("read");
    assert_eq!(line.trim(), "locked", "the holder took the lock");
    child
}

/// Writes a dense 8 MiB run at the start of the old cloud's `image` (two 4 MiB writes).
pub(crate) fn write_dense_8m(conf: &str, image: &str) {
    let seq = rbd(conf)
        .args(["bench", "--io-type", "write", "--io-pattern", "seq", "--io-size", "4M"])
        .args(["--io-total", "8M", &format!("volumes/{image}")])
        .output()
        .expect("rbd bench");
    assert!(seq.status.success(), "{seq:?}");
}

/// Writes 64 KiB to the new cloud's `image` behind stackmigrate's back (the guard must see it).
pub(crate) fn write_new_image(tb: &Testbed, image: &str) {
    let wrote = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["bench", "--io-type", "write", "--io-size", "64K", "--io-total", "64K"])
        .arg(format!("volumes/{image}"))
        .output()
        .expect("rbd bench");
    assert!(wrote.status.success(), "{wrote:?}");
}

/// Whether `image` has a lock holder now (`rbd lock ls` lists none after a
/// clean release).
pub(crate) fn lockers(conf: &str, image: &str) -> String {
    let out = rbd(conf)
        .args(["lock", "ls", "--format", "json", &format!("volumes/{image}")])
        .output()
        .expect("rbd lock ls");
    assert!(out.status.success(), "rbd lock ls: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

/// A 1 GiB source holding `len` bytes at its start, in use by a (made-up)
/// server, synced once. Returns it, the run's directory and its config.
pub(crate) async fn synced_once(
    tb: &Testbed,
    name: &str,
    seed: u64,
    len: usize,
) -> (Volume, tempfile::TempDir, String) {
    let v = source_volume(tb, &unique(name), 1, &[(0, noise(seed, len))], false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(tb, dir.path(), None, false).display().to_string();
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 3);
    (v, dir, cfg)
}

/// [`synced_once`] with 8 MiB, then detached: ready to cut over.
async fn detached_after_round_one(tb: &Testbed, name: &str, seed: u64) -> (Volume, tempfile::TempDir, String) {
    let (v, dir, cfg) = synced_once(tb, name, seed, 8 << 20).await;
    detach(&tb.operator("old"), &v.id).await;
    (v, dir, cfg)
}

/// `migrate --cutover`, which must succeed; its log.
fn cut_over(dir: &std::path::Path, cfg: &str, id: &str) -> String {
    expect_code(&migrate(dir, cfg, id, &["--cutover"]), 0);
    std::fs::read_to_string(dir.join("stackmigrate.log")).expect("log")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cutover_locks_the_source_and_a_client_holding_its_lock_stops_it() {
    let tb = Testbed::get();
    let (v, dir, cfg) = detached_after_round_one(&tb, "warm l", 93).await;
    write_now(&tb, &v.id);
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    let mut holder = hold_lock(&tb, &image);
    assert_ne!(lockers(&conf, &image), "[]", "rbd lock ls shows a held lock");
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 2);
    assert!(
        out.contains("exclusive lock") && out.contains("holds it and has the image open"),
        "{out}"
    );
    // Nothing was finished: the new volume is not marked verified.
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_ne!(
        copies[0].metadata.get("stackmigrate.state").map(String::as_str),
        Some("verified")
    );
    // Nor touched: the new image keeps round 1's snapshot, the next try's base
    // (its writer removes them only once changes arrive).
    let new_image = format!("volume-{}", copies[0].id);
    assert_eq!(snaps(&tb.var("NEW_CEPH_CONF"), &new_image), ["stackmigrate-sync-1"]);
    drop(holder.stdin.take());
    assert!(holder.wait().expect("holder").success());
    // Written while it was held and after: the retry copies it all, random
    // writes and a dense 8 MiB run (sent as records of at most 4 MiB).
    write_now(&tb, &v.id);
    write_dense_8m(&conf, &image);
    let log = cut_over(dir.path(), &cfg, &v.id);
    assert!(
        log.contains("read under its exclusive lock, held from before the read to its end; no snapshot taken"),
        "the final round locked the source"
    );
    // Round 1's snapshot was the only one the source had: the final round took none.
    let removed = format!("removed the source's warm-sync snapshots {image}@stackmigrate-sync-1 volume=");
    assert!(log.contains(&removed), "{log}");
    assert_eq!(lockers(&conf, &image), "[]", "the source's lock was released");
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_without_the_exclusive_lock_feature_is_snapshotted_first() {
    let tb = Testbed::get();
    let (v, dir, cfg) = detached_after_round_one(&tb, "warm f", 91).await;
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volumes/volume-{}", v.id));
    let off = rbd(&conf)
        .args([
            "feature",
            "disable",
            &image,
            "fast-diff",
            "object-map",
            "exclusive-lock",
        ])
        .output()
        .expect("rbd feature disable");
    assert!(off.status.success(), "feature disable: {}", text(&off.stderr));
    write_now(&tb, &v.id);
    let log = cut_over(dir.path(), &cfg, &v.id);
    assert!(
        log.contains("@stackmigrate-sync-2 taken; writing the delta"),
        "snapshot first"
    );
    assert!(!log.contains("to be locked against writes") && !log.contains("read under its exclusive lock"));
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_with_nothing_changed_removes_the_new_images_snapshots_after_it_is_verified() {
    let tb = Testbed::get();
    let (v, dir, cfg) = detached_after_round_one(&tb, "warm q", 89).await;
    let log = cut_over(dir.path(), &cfg, &v.id);
    assert!(
        log.contains("round 2 verified: 0 B changed"),
        "nothing changed since round 1"
    );
    assert!(
        !log.contains("the new image's sync snapshots removed meanwhile"),
        "no change, no removal in the round"
    );
    let verified = log.find("cut over: new volume").expect("the volume verified");
    let removed = log
        .find("removed the new image's warm-sync snapshots")
        .expect("the new image's snapshots removed");
    assert!(removed > verified, "after the volume is verified");
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_that_trips_in_a_cutover_leaves_the_source_unlocked_and_without_a_new_snapshot() {
    let tb = Testbed::get();
    let (v, dir, cfg) = detached_after_round_one(&tb, "warm t", 87).await;
    write_now(&tb, &v.id);
    let copies = copies_of(&tb, &v.id).await;
    let new_image = format!("volume-{}", copies[0].id);
    // Someone wrote to the new image since round 1: the guard stops the cutover.
    write_new_image(&tb, &new_image);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 2);
    assert!(out.contains("were written to the new image"), "{out}");
    // The final round took no snapshot, and no lock is left on the source:
    // the reader, sent `lock` beside the guard, is stopped with SIGTERM. (The
    // guard here answers within about 0.15 s, often before the reader holds
    // the lock; the test below holds it first.)
    let (conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    assert_eq!(lockers(&conf, &image), "[]", "no lock left on the source");
    assert_eq!(snaps(&conf, &image), ["stackmigrate-sync-1"]);
    let _ = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["snap", "purge", "--no-progress", &format!("volumes/{new_image}")])
        .output();
    delete_volumes(&tb.operator("new"), &[&copies[0].id]).await;
    remove_source(&tb, &v.id).await;
}

/// The reader of a cutover is sent `lock` beside the guard; stopped before
/// the round is applied (the guard tripped), it must let go of the source's
/// lock at once: a killed holder's lock would stay about 30 s and refuse
/// the operator's next try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sent_lock_and_then_stopped_releases_the_sources_lock() {
    use stackmigrate::storage::BlockStore;
    let tb = Testbed::get();
    let cfg = tb.admin_config();
    let (old_conf, new_conf) = (tb.var("OLD_CEPH_CONF"), tb.var("NEW_CEPH_CONF"));
    let image = unique("lock-stop").replace(' ', "-");
    let sh = |conf: &str, args: &[&str]| {
        let out = rbd(conf).args(args).output().expect("rbd");
        assert!(out.status.success(), "rbd {args:?}: {}", text(&out.stderr));
    };
    let spec = format!("volumes/{image}");
    sh(&old_conf, &["create", "--size", "64M", &spec]);
    sh(&old_conf, &["snap", "create", "--no-progress", &format!("{spec}@from")]);
    // More changes than its pipe and read window hold: unread, the reader
    // waits with the lock held (with less it would finish and let go itself).
    sh(
        &old_conf,
        &[
            "bench",
            "--io-type",
            "write",
            "--io-size",
            "4M",
            "--io-total",
            "48M",
            &spec,
        ],
    );
    sh(&new_conf, &["create", "--size", "64M", &spec]);
    let old = BlockStore::for_cloud(&cfg.old_cloud).expect("ceph");
    let new = BlockStore::for_cloud(&cfg.new_cloud).expect("ceph");
    let mut helpers = old
        .start_round(&new, (&image, "from", "to"), &image, None)
        .await
        .expect("helpers")
        .expect("rounds are read back as written here");
    helpers.lock_source_now();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while lockers(&old_conf, &image) == "[]" {
        assert!(std::time::Instant::now() < deadline, "the reader never took the lock");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    helpers.stop().await;
    assert_eq!(
        lockers(&old_conf, &image),
        "[]",
        "the stopped reader let go of the lock"
    );
    sh(&old_conf, &["snap", "purge", "--no-progress", &spec]);
    sh(&old_conf, &["rm", "--no-progress", &spec]);
    sh(&new_conf, &["rm", "--no-progress", &spec]);
}

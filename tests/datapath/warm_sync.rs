//! Warm sync of in-use volumes on the real testbed: a volume marked in use
//! with Cinder's attach actions (no Nova compute), a live writer (`rbd
//! bench`) before, during and between rounds, then a cutover that is refused
//! while attached, and done once detached (or forced). After it the new
//! image equals the source (both read with plain `rbd export`), no warm-sync
//! snapshot is left on either side, and Cinder deletes, extends and
//! snapshots the new volume.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::{Cinder, Session};
use std::path::Path;

/// A made-up Nova instance: Nova cannot say its status, so it may write.
pub(crate) const SERVER: &str = "6a0ea5b1-7ea5-4b4a-9f6e-0c4d1e2f3a4b";
const WRITE: &str = "16M";

pub(crate) fn report(dir: &Path) -> serde_json::Value {
    let work = dir.join("work");
    let project = std::fs::read_dir(&work)
        .expect("work dir")
        .filter_map(Result::ok)
        .find(|e| e.path().join("report.json").exists())
        .expect("a project dir with a report");
    serde_json::from_str(&std::fs::read_to_string(project.path().join("report.json")).expect("read")).expect("json")
}

pub(crate) fn sync_snaps(conf: &str, image: &str) -> Vec<String> {
    snaps(conf, image)
        .into_iter()
        .filter(|s| s.starts_with("stackmigrate-sync-"))
        .collect()
}

pub(crate) fn write_now(tb: &Testbed, vol: &str) {
    let status = bench_write(&tb.var("OLD_CEPH_CONF"), &format!("volume-{vol}"), WRITE)
        .wait()
        .expect("bench");
    assert!(status.success(), "rbd bench");
}

/// Discards 2 MiB of the source at `offset` through librbd (the rbd CLI has
/// no discard): the next round must zero that range in the copy.
pub(crate) fn discard_now(tb: &Testbed, vol: &str, offset: u64) {
    discard(tb, vol, offset, 2 << 20);
}

/// Discards `len` bytes of the source at `offset` (a whole object: removed).
pub(crate) fn discard(tb: &Testbed, vol: &str, offset: u64, len: u64) {
    let script = "import rados, rbd, sys\n\
c = rados.Rados(conffile=sys.argv[1], conf={'keyring': sys.argv[2]})\n\
c.connect()\n\
io = c.open_ioctx('volumes')\n\
with rbd.Image(io, sys.argv[3]) as img:\n    img.discard(int(sys.argv[4]), int(sys.argv[5]))\n\
io.close()\n\
c.shutdown()\n";
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", script, &tb.var("OLD_CEPH_CONF"), &tb.var("OLD_CEPH_KEYRING")])
        .args([format!("volume-{vol}"), offset.to_string(), len.to_string()])
        .output()
        .expect("python3");
    assert!(out.status.success(), "discard: {}", text(&out.stderr));
}

/// `migrate` with the rbd CLI only, as on a host without `python3-rbd`.
fn migrate_cli_only(dir: &Path, cfg: &str, id: &str, extra: &[&str]) -> std::process::Output {
    migrate_cmd(dir, cfg, id, extra)
        .env("STACKMIGRATE_RBD_CLI_ONLY", "1")
        .output()
        .expect("run stackmigrate")
}

/// Cinder in the new cloud can use the cut-over volume: extend, snapshot,
/// delete (a leftover rbd snapshot would make the delete fail).
async fn cinder_can_use(s: &Session, id: &str) {
    let c = Cinder::new(s);
    c.action(id, serde_json::json!({ "os-extend": { "new_size": 2 } }))
        .await
        .expect("extend");
    let v = c.wait_for_status(id, &["available"], WAIT).await.expect("extended");
    assert_eq!(v.size, 2);
    let snap = c.create_snapshot(id, "after cutover").await.expect("snapshot");
    let mut status = String::new();
    for _ in 0..100 {
        status = c.snapshot_status(&snap).await.expect("snapshot status");
        if status != "creating" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert_eq!(status, "available", "the Cinder snapshot of the new volume");
    c.delete_snapshot(&snap).await.expect("delete snapshot");
    for _ in 0..100 {
        if c.snapshot_status(&snap).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    c.delete_volume(id).await.expect("delete");
    c.wait_deleted(id, WAIT).await.expect("deleted");
}

/// The cut-over copy: one new volume, verified, equal to the source, no
/// warm-sync snapshot left anywhere; Cinder can use it.
pub(crate) async fn check_cut_over(tb: &Testbed, source: &str) {
    let copies = copies_of(tb, source).await;
    assert_eq!(copies.len(), 1, "exactly one new volume: {copies:?}");
    let new = &copies[0];
    assert_eq!(
        new.metadata.get("stackmigrate.state").map(String::as_str),
        Some("verified")
    );
    let (old_conf, new_conf) = (tb.var("OLD_CEPH_CONF"), tb.var("NEW_CEPH_CONF"));
    let old_image = format!("volume-{source}");
    let new_image = format!("volume-{}", new.id);
    assert_eq!(
        image_hash(&new_conf, &new_image).await,
        image_hash(&old_conf, &old_image).await,
        "the new image equals the source"
    );
    assert_eq!(sync_snaps(&old_conf, &old_image), Vec::<String>::new());
    assert_eq!(snaps(&new_conf, &new_image), Vec::<String>::new());
    cinder_can_use(&tb.operator("new"), &new.id).await;
}

pub(crate) async fn remove_source(tb: &Testbed, id: &str) {
    let old = tb.operator("old");
    if Cinder::new(&old)
        .get_volume(id)
        .await
        .is_ok_and(|v| v.status == "in-use")
    {
        detach(&old, id).await;
    }
    let _ = rbd(&tb.var("OLD_CEPH_CONF"))
        .args(["snap", "purge", "--no-progress", &format!("volumes/volume-{id}")])
        .output();
    delete_volumes(&tb.operator("old"), &[id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_with_a_live_writer_then_a_refused_and_a_real_cutover() {
    let tb = Testbed::get();
    let regions: Vec<(u64, Vec<u8>)> = (0..2).map(|i| (i * (300 << 20), noise(90 + i, 16 << 20))).collect();
    let v = source_volume(&tb, &unique("warm a"), 1, &regions, false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();

    // The plan says what will happen to an attached volume.
    let plan = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--dry-run"]), 0);
    assert!(plan.contains("warm sync") && plan.contains(SERVER), "{plan}");

    // Round 1 while the writer runs.
    let mut writer = bench_write(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id), WRITE);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 3);
    assert!(writer.wait().expect("bench").success());
    assert!(out.contains("synced"), "{out}");
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(
        copies[0].metadata.get("stackmigrate.state").map(String::as_str),
        Some("importing"),
        "not verified before cutover"
    );
    // Between rounds (a write and a discard of data round 1 copied), then round 2.
    write_now(&tb, &v.id);
    discard_now(&tb, &v.id, 2 << 20);
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 3);
    assert!(out.contains("read back as it was written"), "{out}");
    let r = report(dir.path());
    assert_eq!(r["volumes"][0]["sync_rounds"], 2, "{r}");
    assert_eq!(r["volumes"][0]["state"], "synced", "{r}");
    let pit = r["volumes"][0]["point_in_time"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(pit.contains("not migrated until cutover"), "{pit}");
    // Only the newest round's snapshot is kept, on each side.
    assert_eq!(
        sync_snaps(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)),
        vec!["stackmigrate-sync-2"]
    );
    assert_eq!(
        snaps(&tb.var("NEW_CEPH_CONF"), &format!("volume-{}", copies[0].id)),
        vec!["stackmigrate-sync-2"]
    );

    // Still attached: the cutover is refused, naming the server.
    let refused = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 2);
    assert!(
        refused.contains("cutover refused") && refused.contains(SERVER),
        "{refused}"
    );

    // Writer stopped, volume detached, one more write: the cutover takes it.
    detach(&tb.operator("old"), &v.id).await;
    write_now(&tb, &v.id);
    let done = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    assert!(done.contains("cut over"), "{done}");
    let r = report(dir.path());
    assert!(
        r["volumes"][0]["point_in_time"]
            .as_str()
            .is_some_and(|p| p.contains("final round")),
        "{r}"
    );
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

/// With the rbd CLI only (no `python3-rbd`): rounds read the new image's
/// own diff after the delta, and the copy still ends equal to the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_keeps_the_copy_out_of_cinder_until_a_forced_cutover() {
    let tb = Testbed::get();
    let regions = vec![(4096, noise(95, 8 << 20))];
    let v = source_volume(&tb, &unique("warm m"), 1, &regions, false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, true).display().to_string();
    let manage = ["--strategy", "manage"];
    let mut writer = bench_write(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id), WRITE);
    expect_code(&migrate_cli_only(dir.path(), &cfg, &v.id, &manage), 3);
    assert!(writer.wait().expect("bench").success());
    assert!(
        copies_of(&tb, &v.id).await.is_empty(),
        "no Cinder volume before cutover"
    );
    write_now(&tb, &v.id);
    // The export file lost between rounds: read back from the new image's
    // last verified snapshot, checked against its manifest root.
    let export = dir
        .path()
        .join("exports")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join(format!("volume-{}.raw", v.id));
    std::fs::remove_file(&export).expect("the export file was there");
    discard_now(&tb, &v.id, 2 << 20);
    let out = expect_code(
        &migrate_cli_only(dir.path(), &cfg, &v.id, &[&manage[..], &["--sync"]].concat()),
        3,
    );
    assert!(
        out.contains("read back, in") && !out.contains("as it was written"),
        "the rbd CLI's round: {out}"
    );
    assert!(export.exists(), "the export file is back");
    // Still attached: forced, with its warning; the report says so.
    let forced = expect_code(
        &migrate_cli_only(
            dir.path(),
            &cfg,
            &v.id,
            &[&manage[..], &["--cutover", "--force-cutover", "--full-verify"]].concat(),
        ),
        2,
    );
    assert!(forced.contains("FORCED"), "{forced}");
    let r = report(dir.path());
    assert_eq!(r["volumes"][0]["forced_cutover"], true, "{r}");
    detach(&tb.operator("old"), &v.id).await;
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_round_and_mid_cutover_then_resume() {
    let tb = Testbed::get();
    let regions = vec![(0, noise(97, 24 << 20))];
    let v = source_volume(&tb, &unique("warm k"), 1, &regions, false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 3);
    write_now(&tb, &v.id);
    // Killed as the round begins to write: its redo may rewrite what it wrote.
    let mid = "log:writing the delta";
    let (killed, _) = migrate_signalled_with(dir.path(), &cfg, &v.id, &["--sync"], mid, "KILL");
    assert!(killed, "the run reached a sync round's writes");
    write_now(&tb, &v.id);
    expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 3);
    detach(&tb.operator("old"), &v.id).await;
    write_now(&tb, &v.id);
    let (killed, _) = migrate_signalled_with(dir.path(), &cfg, &v.id, &["--cutover"], mid, "KILL");
    assert!(killed, "the run reached the final round's writes");
    // The final round removes the new image's snapshots while it writes (the
    // purge makes sure the killed try got that far): the resumed cutover
    // redoes the round without them.
    let copies = copies_of(&tb, &v.id).await;
    let new_image = format!("volumes/volume-{}", copies[0].id);
    let purge = rbd(&tb.var("NEW_CEPH_CONF"))
        .args(["snap", "purge", "--no-progress", &new_image])
        .output()
        .expect("rbd");
    assert!(purge.status.success(), "snap purge: {}", text(&purge.stderr));
    expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    let log = std::fs::read_to_string(dir.path().join("stackmigrate.log")).expect("log");
    assert!(
        log.contains("the new image's sync snapshots removed meanwhile"),
        "the final round's removal while it writes"
    );
    // With no base snapshot left to diff, all the killed try may have written
    // is rewritten, zeros included.
    assert!(
        log.contains("was cut short after it began writing"),
        "the redo writes zeros where the killed try may have written"
    );
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_use_snapshot_is_an_explicit_choice_reported_crash_consistent() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &unique("warm s"), 1, &[(0, noise(98, 4 << 20))], false).await;
    attach(&tb.operator("old"), &v.id, SERVER).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();
    let plan = expect_code(
        &migrate(dir.path(), &cfg, &v.id, &["--in-use", "snapshot", "--dry-run"]),
        0,
    );
    assert!(plan.contains("crash-consistent"), "{plan}");
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--in-use", "snapshot"]), 2);
    assert!(out.contains("later writes NOT copied"), "{out}");
    let r = report(dir.path());
    let row = &r["volumes"][0];
    assert_eq!(row["crash_consistent"], true, "{r}");
    assert_eq!(row["sync_rounds"], 0, "{r}");
    assert!(
        row["point_in_time"]
            .as_str()
            .is_some_and(|p| p.starts_with("crash-consistent at ") && p.ends_with("later writes not copied")),
        "{r}"
    );
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1);
    assert_eq!(
        sync_snaps(&tb.var("OLD_CEPH_CONF"), &format!("volume-{}", v.id)),
        Vec::<String>::new(),
        "a one-pass copy keeps no sync snapshot"
    );
    delete_volumes(&tb.operator("new"), &[&copies[0].id]).await;
    remove_source(&tb, &v.id).await;
}

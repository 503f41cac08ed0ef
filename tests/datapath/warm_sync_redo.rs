//! A warm-sync round cut short after it patched the export file but before
//! its records reached the new image (they sat in a buffer or a pipe when
//! the process died): its redo must not take the file's new zeros for the
//! copy's. The state is made by hand, as no signal lands between the two
//! writes on purpose: after round 1 the source discards a range; the
//! journal says round 2 began writing; the export file is punched there and
//! the new image is not. And a try that read from its snapshot, wrote an
//! object the source then discarded whole: its redo must read from that
//! snapshot again, or the object stays in the copy.

use super::warm_sync::{check_cut_over, discard, discard_now, remove_source};
use super::warm_sync_lock::{synced_once, write_new_image};
use crate::fixtures::*;
use crate::testbed::Testbed;
use stackmigrate::openstack::Volume;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Appends to the journal under `dir`, as the engine writes it (one JSON
/// object a line, the next sequence numbers), that `volume`'s round 2
/// started and began writing: a try cut short as it wrote. `snap_at`: when
/// that try took its source snapshot (none: an older journal's line).
fn round_two_began_writing(dir: &Path, volume: &str, snap_at: Option<&str>) {
    let project = std::fs::read_dir(dir.join("work"))
        .expect("work dir")
        .filter_map(Result::ok)
        .find(|e| e.path().join("journal.jsonl").exists())
        .expect("a project dir with a journal");
    let path = project.path().join("journal.jsonl");
    let text = std::fs::read_to_string(&path).expect("journal");
    let last: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    let mut seq = last["seq"].as_u64().expect("seq");
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
    for t in ["sync_started", "sync_writing"] {
        seq += 1;
        let mut line = serde_json::json!({
            "seq": seq, "at": "2026-12-04T14:50:00+00:00", "volume": volume, "t": t, "round": 2
        });
        if let (Some(at), "sync_writing") = (snap_at, t) {
            line["snap_at"] = at.into();
        }
        writeln!(f, "{line}").expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redo_does_not_take_zeros_a_cut_short_try_left_in_the_export_file_for_the_copys() {
    let tb = Testbed::get();
    let (v, dir, cfg) = synced_once(&tb, "warm z", 41, 4 << 20).await;
    // The source's first 2 MiB become zeros after round 1.
    discard_now(&tb, &v.id, 0);
    // Round 2 began writing, punched the export file there, and died before
    // its zero record reached the new image.
    round_two_began_writing(dir.path(), &v.id, None);
    let export = dir
        .path()
        .join("exports")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join(format!("volume-{}.raw", v.id));
    let punched = std::process::Command::new("fallocate")
        .args(["--punch-hole", "--offset", "0", "--length", "2MiB"])
        .arg(&export)
        .status()
        .expect("fallocate");
    assert!(punched.success(), "punch {}", export.display());
    // The new image read independently equals the source: zeros where it
    // discarded, not the data round 1 copied there.
    redo_then_cut_over(&tb, &v, dir.path(), &cfg, &[]).await;
}

/// `--sync` (the redo of round 2, which must pass and say `says`), then the
/// cutover once detached: the copy must equal the source.
async fn redo_then_cut_over(tb: &Testbed, v: &Volume, dir: &Path, cfg: &str, says: &[&str]) {
    let redo = expect_code(&migrate(dir, cfg, &v.id, &["--sync"]), 3);
    assert!(redo.contains("round 2 verified"), "{redo}");
    for s in says {
        assert!(redo.contains(s), "{s}: {redo}");
    }
    detach(&tb.operator("old"), &v.id).await;
    expect_code(&migrate(dir, cfg, &v.id, &["--cutover"]), 0);
    check_cut_over(tb, &v.id).await;
    remove_source(tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redo_reads_the_whole_copy_back_so_a_write_it_excused_cannot_stay() {
    let tb = Testbed::get();
    let (v, dir, cfg) = synced_once(&tb, "warm x", 43, 4 << 20).await;
    // Round 2 began writing and was cut short; meanwhile someone else wrote
    // to the new image where the source did not change. The guard cannot
    // tell that write from the cut-short try's, and the redo rewrites only
    // what the source changed: the round must not pass.
    round_two_began_writing(dir.path(), &v.id, None);
    let copies = copies_of(&tb, &v.id).await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    write_new_image(&tb, &format!("volume-{}", copies[0].id));
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 2);
    assert!(
        out.contains("mismatch") && out.contains("something else wrote to it"),
        "{out}"
    );
    assert!(!out.contains("round 2 verified"), "{out}");
    let _ = rbd(&tb.var("NEW_CEPH_CONF"))
        .args([
            "snap",
            "purge",
            "--no-progress",
            &format!("volumes/volume-{}", copies[0].id),
        ])
        .output();
    delete_volumes(&tb.operator("new"), &[&copies[0].id]).await;
    remove_source(&tb, &v.id).await;
}

/// Round 1 done, then round 2's try: the source gains an object after round
/// 1, the try snapshots it (`snapshot`; else it is a cutover's final round
/// read under the source's lock, which takes none and drops the new image's
/// snapshots as it writes), writes that object to the export file and the
/// new image, and dies before its round is verified. The source then
/// discards the object whole: it is in neither round 1's snapshot nor any
/// snapshot taken now. Returns the source, the run's dir and config.
async fn a_try_wrote_an_object_the_source_discarded(
    tb: &Testbed,
    name: &str,
    seed: u64,
    snapshot: bool,
) -> (Volume, tempfile::TempDir, String) {
    let (v, dir, cfg) = synced_once(tb, name, seed, 4 << 20).await;
    let (at, object) = (8u64 << 20, noise(seed + 1, 1 << 20));
    let image = format!("volume-{}", v.id);
    write_regions(&tb.var("OLD_CEPH_CONF"), &image, GIB, &[(at, object.clone())]);
    if snapshot {
        let snap = rbd(&tb.var("OLD_CEPH_CONF"))
            .args([
                "snap",
                "create",
                "--no-progress",
                &format!("volumes/{image}@stackmigrate-sync-2"),
            ])
            .output()
            .expect("rbd snap create");
        assert!(snap.status.success(), "{snap:?}");
    }
    let snap_at = snapshot.then_some("2026-12-05T01:00:00+00:00");
    round_two_began_writing(dir.path(), &v.id, snap_at);
    let export = dir
        .path()
        .join("exports")
        .join(tb.var("OLD_RESEARCH_ID"))
        .join(format!("volume-{}.raw", v.id));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&export)
        .expect("export file");
    file.write_all_at(&object, at).expect("patch the export file");
    let copies = copies_of(tb, &v.id).await;
    assert_eq!(copies.len(), 1, "{copies:?}");
    let copy = format!("volumes/volume-{}", copies[0].id);
    if !snapshot {
        let purged = rbd(&tb.var("NEW_CEPH_CONF"))
            .args(["snap", "purge", "--no-progress", &copy])
            .output()
            .expect("rbd snap purge");
        assert!(purged.status.success(), "{purged:?}");
    }
    write_regions(&tb.var("NEW_CEPH_CONF"), &copy[8..], GIB, &[(at, object)]);
    discard(tb, &v.id, at, 4 << 20);
    (v, dir, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redo_reads_from_the_cut_short_trys_snapshot_so_an_object_it_wrote_and_the_source_discarded_goes() {
    let tb = Testbed::get();
    let (v, dir, cfg) = a_try_wrote_an_object_the_source_discarded(&tb, "warm o", 51, true).await;
    // From a fresh snapshot the redo would not see that object, and the whole
    // read-back would take the try's write for someone else's (exit 2).
    redo_then_cut_over(&tb, &v, dir.path(), &cfg, &["of the cut-short try kept"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_first_redoes_a_cut_short_round_from_its_own_snapshot() {
    let tb = Testbed::get();
    let (v, dir, cfg) = a_try_wrote_an_object_the_source_discarded(&tb, "warm p", 53, true).await;
    detach(&tb.operator("old"), &v.id).await;
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    assert!(out.contains("of the cut-short try kept"), "{out}");
    assert!(
        out.contains("round 2 verified") && out.contains("round 3 verified"),
        "{out}"
    );
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

/// A cutover's final round read under the source's lock takes no snapshot,
/// so its redo cannot read what that try wrote: it zeros the copy's objects
/// the source lacks. Without that, the redo's whole read-back took the
/// try's object for someone else's write (exit 2, "delete that copy").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redo_of_a_locked_final_round_zeros_an_object_it_wrote_that_the_source_discarded() {
    let tb = Testbed::get();
    let (v, dir, cfg) = a_try_wrote_an_object_the_source_discarded(&tb, "warm q", 55, false).await;
    // A change below the stray object: the redo's stream stays in offset order.
    let image = format!("volume-{}", v.id);
    write_regions(&tb.var("OLD_CEPH_CONF"), &image, GIB, &[(1 << 20, noise(56, 64 << 10))]);
    detach(&tb.operator("old"), &v.id).await;
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    assert!(
        out.contains("4.0 MiB of volume-") && out.contains("where the source has no object"),
        "{out}"
    );
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

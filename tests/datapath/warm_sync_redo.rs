//! A warm-sync round cut short after it patched the export file but before
//! its records reached the new image (they sat in a buffer or a pipe when
//! the process died): its redo must not take the file's new zeros for the
//! copy's. The state is made by hand, as no signal lands between the two
//! writes on purpose: after round 1 the source discards a range; the
//! journal says round 2 began writing; the export file is punched there and
//! the new image is not.

use super::warm_sync::{check_cut_over, discard_now, remove_source};
use super::warm_sync_lock::{synced_once, write_new_image};
use crate::fixtures::*;
use crate::testbed::Testbed;
use std::io::Write;
use std::path::Path;

/// Appends to the journal under `dir`, as the engine writes it (one JSON
/// object a line, the next sequence numbers), that `volume`'s round 2
/// started and began writing: a try cut short as it wrote.
fn round_two_began_writing(dir: &Path, volume: &str) {
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
        let line = serde_json::json!({
            "seq": seq, "at": "2026-12-04T14:50:00+00:00", "volume": volume, "t": t, "round": 2
        });
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
    round_two_began_writing(dir.path(), &v.id);
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
    let redo = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--sync"]), 3);
    assert!(redo.contains("round 2 verified"), "{redo}");
    detach(&tb.operator("old"), &v.id).await;
    expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    // The new image read independently equals the source: zeros where it
    // discarded, not the data round 1 copied there.
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redo_reads_the_whole_copy_back_so_a_write_it_excused_cannot_stay() {
    let tb = Testbed::get();
    let (v, dir, cfg) = synced_once(&tb, "warm x", 43, 4 << 20).await;
    // Round 2 began writing and was cut short; meanwhile someone else wrote
    // to the new image where the source did not change. The guard cannot
    // tell that write from the cut-short try's, and the redo rewrites only
    // what the source changed: the round must not pass.
    round_two_began_writing(dir.path(), &v.id);
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

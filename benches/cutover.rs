//! Warm sync's cutover window on the real testbed (`scripts/bench-cutover.sh`).
//! In one run: an 8 GiB volume holding 2 GiB is first copied cold in one
//! pass (`migrate`, detached); then, attached to a (made-up) server, round 1,
//! a writer changes 64 MiB, round 2, the writer changes 64 MiB, the volume is
//! detached and cut over. Prints the cutover window (the operator's go to
//! verified) beside the cold copy, both measured by the real binary, and the
//! fixed per-volume cost: the cutover of a second volume of the same layout
//! with nothing changed since its round 1. `BENCH_CUTOVER_EXACT=1` makes
//! every object exist, whole, before round 2, so that the final delta's
//! extents are the writes themselves: the window exact byte ranges would give.

use stackmigrate::config::Config;
use stackmigrate::openstack::{Cinder, Session};
use std::path::Path;
use std::time::Instant;

#[path = "binary_run.rs"]
mod binary_run;
#[path = "common.rs"]
mod common;
#[path = "proc_cpu.rs"]
mod proc_cpu;
use binary_run::{available_volume, config, drop_copies, migrate, WAIT};
use common::{env, rbd, MIB};

const GIB: u64 = 1 << 30;
const SERVER: &str = "0b5e0c2e-4d4e-4f5a-8e6b-3c2d1a0f9e8d";

fn write_64m(conf: &str, id: &str) {
    common::bench_64m(conf, "write", &format!("volumes/volume-{id}"));
}

/// The physical floor of the final round's data movement, with the same
/// tools and the same kind of delta: a raw copy of the source at snapshot
/// `a` (not timed), 64 MiB written, then timed: snapshot `b`, `rbd
/// export-diff --from-snap a src@b | rbd import-diff` into the raw copy, and
/// the raw copy's own diff `a → b` read into /dev/null (the read-back, without
/// even a pipe). The shell's pipe has Linux's default 64 KiB capacity.
/// Then the same work as our final round, which takes no snapshot: 64 MiB
/// more written, and timed: `rbd export-diff --from-snap b` of the live
/// source `| rbd import-diff` (no snapshot on either side), and the copy's
/// diff since `b` read into /dev/null. Returns both as (delta, read-back).
fn raw_final_round(old: &str, new: &str, id: &str) -> [(f64, f64); 2] {
    let src = format!("volumes/volume-{id}");
    let copy = format!("volumes/raw-floor-{}", std::process::id());
    let sh = |script: String| common::sh(&script);
    let (o, n) = (
        format!("rbd --conf {old} --id admin"),
        format!("rbd --conf {new} --id admin"),
    );
    sh(format!(
        "{o} snap create {src}@raw-a >/dev/null && {n} create --size 8G {copy}"
    ));
    sh(format!(
        "{o} export-diff --no-progress {src}@raw-a - | {n} import-diff --no-progress - {copy}"
    ));
    write_64m(old, id);
    common::settle();
    let t = Instant::now();
    sh(format!(
        "{o} snap create {src}@raw-b >/dev/null && {o} export-diff --no-progress --from-snap raw-a {src}@raw-b - | {n} import-diff --no-progress - {copy}"
    ));
    let delta = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sh(format!(
        "{n} export-diff --no-progress --from-snap raw-a {copy}@raw-b - >/dev/null"
    ));
    let read_back = t.elapsed().as_secs_f64();
    write_64m(old, id);
    common::settle();
    let t = Instant::now();
    sh(format!(
        "{o} export-diff --no-progress --from-snap raw-b {src} - | {n} import-diff --no-progress - {copy}"
    ));
    let live = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sh(format!(
        "{n} export-diff --no-progress --from-snap raw-b {copy} - >/dev/null"
    ));
    let live_back = t.elapsed().as_secs_f64();
    sh(format!(
        "{o} snap purge --no-progress {src} && {n} snap purge --no-progress {copy} && {n} rm --no-progress {copy}"
    ));
    [(delta, read_back), (live, live_back)]
}

/// The I/O alone of a 64 MiB delta of 64 KiB pieces, each timed by `rbd
/// bench` (4 threads): random reads of the source, random writes to a
/// scratch image in the new cluster, and reading those back. No tool moves
/// the data between them, so no round can cost less than the largest of the
/// three, nor less than a snapshot before them.
fn raw_io(old: &str, new: &str, id: &str) -> (f64, f64, f64) {
    let scratch = format!("volumes/raw-io-{}", std::process::id());
    let bench = common::bench_64m;
    rbd(new, &["create", "--size", "8G", &scratch]);
    common::settle();
    let read = bench(old, "read", &format!("volumes/volume-{id}"));
    let write = bench(new, "write", &scratch);
    let read_back = bench(new, "read", &scratch);
    rbd(new, &["rm", "--no-progress", &scratch]);
    (read, write, read_back)
}

async fn action(c: &Cinder<'_>, id: &str, body: serde_json::Value) {
    c.action(id, body).await.expect("volume action");
}

/// An 8 GiB source volume holding 2 GiB (4 MiB runs every 16 MiB).
async fn source_volume(c: &Cinder<'_>, conf: &str, name: &str) -> String {
    let id = available_volume(c, 8, name).await;
    common::fill(conf, &format!("volume-{id}"), 8 * GIB, 2 * GIB, 16 * MIB, 7);
    id
}

async fn attach(c: &Cinder<'_>, id: &str) {
    action(c, id, serde_json::json!({ "os-reserve": {} })).await;
    let attach = serde_json::json!({ "os-attach": { "instance_uuid": SERVER, "mountpoint": "/dev/vdb" } });
    action(c, id, attach).await;
    c.wait_for_status(id, &["in-use"], WAIT).await.expect("in-use");
}

async fn detach(c: &Cinder<'_>, id: &str) {
    let attached = c.get_volume(id).await.expect("get");
    action(c, id, serde_json::json!({ "os-begin_detaching": {} })).await;
    let a = attached.attachments.first().and_then(|a| a.attachment_id.clone());
    action(c, id, serde_json::json!({ "os-detach": { "attachment_id": a } })).await;
    c.wait_for_status(id, &["available"], WAIT).await.expect("detached");
}

/// The fixed per-volume cost of a cutover, in the same run: another volume
/// of the same size and layout, synced once while attached, then detached
/// and cut over with nothing changed since. Returns its window (go →
/// verified), its final round + finish and the final round's steps.
async fn empty_cutover(c: &Cinder<'_>, new: &Session, creds: &str, conf: &str) -> Fixed {
    let id = source_volume(c, conf, "cutover-fixed").await;
    attach(c, &id).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = config(creds, dir.path());
    assert_eq!(migrate(dir.path(), &cfg_path, &id, &[]).code, Some(3), "round 1");
    detach(c, &id).await;
    common::settle();
    let cut = migrate(dir.path(), &cfg_path, &id, &["--cutover"]);
    if let Ok(keep) = std::env::var("BENCH_KEEP_LOG") {
        let _ = std::fs::copy(dir.path().join("log"), format!("{keep}.fixed"));
    }
    assert_eq!(cut.code, Some(0), "empty cutover");
    drop_copies(new, &id).await;
    c.delete_volume(&id).await.expect("delete source");
    Fixed {
        window: cut.verified.expect("verified"),
        from_stage: cut.from_stage.unwrap_or(f64::NAN),
        steps: final_round_steps(dir.path()),
    }
}

struct Fixed {
    window: f64,
    from_stage: f64,
    steps: String,
}

/// The log's lap lines of the last round (the cutover's final one).
fn final_round_steps(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    let steps: Vec<&str> = log
        .lines()
        .filter_map(|l| l.split("sync round step ").nth(1))
        .map(|s| s.split(" volume=").next().unwrap_or(s))
        .collect();
    let first = steps.iter().rposition(|s| s.starts_with("guard")).unwrap_or(0);
    steps[first..].join(", ")
}

#[tokio::main]
async fn main() {
    let env = env();
    let creds = env["CREDENTIALS"].clone();
    let conf = env["OLD_CEPH_CONF"].clone();
    let cfg = Config::from_json_file(Path::new(&creds)).expect("credentials").0;
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let c = Cinder::new(&old);
    let vid = source_volume(&c, &conf, "cutover").await;

    let cold_dir = tempfile::tempdir().expect("tmp");
    common::settle();
    let cold = migrate(cold_dir.path(), &config(&creds, cold_dir.path()), &vid, &[]);
    assert_eq!(cold.code, Some(0), "cold migrate");
    drop_copies(&new, &vid).await;

    attach(&c, &vid).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg_path = config(&creds, dir.path());
    let round1 = migrate(dir.path(), &cfg_path, &vid, &[]);
    assert_eq!(round1.code, Some(3), "round 1");
    if std::env::var_os("BENCH_CUTOVER_EXACT").is_some() {
        // Every object of the image exists, whole, from round 2 on: the final
        // delta's extents are then the writes themselves, as exact byte
        // ranges (sparse_read) would report them in this layout.
        common::fill_runs(
            &conf,
            &format!("volume-{vid}"),
            (8 * GIB, 4 * MIB - 4096),
            (8 * GIB, 4096),
            4 * MIB,
            9,
        );
    }
    write_64m(&conf, &vid);
    let round2 = migrate(dir.path(), &cfg_path, &vid, &["--sync"]);
    assert_eq!(round2.code, Some(3), "round 2");
    write_64m(&conf, &vid);
    detach(&c, &vid).await;
    common::settle();
    let sampler = proc_cpu::ProcCpu::start(env!("CARGO_BIN_EXE_stackmigrate"));
    let cut = migrate(dir.path(), &cfg_path, &vid, &["--cutover"]);
    if let Ok(keep) = std::env::var("BENCH_KEEP_LOG") {
        let _ = std::fs::copy(dir.path().join("log"), keep);
    }
    assert_eq!(cut.code, Some(0), "cutover");
    let cpu = sampler.report(0.0, cut.verified.unwrap_or(0.0), "  ");

    let fixed = empty_cutover(&c, &new, &creds, &conf).await;
    let [(raw_delta, raw_read), (live, live_back)] = raw_final_round(&conf, &env["NEW_CEPH_CONF"], &vid);
    let (io_read, io_write, io_back) = raw_io(&conf, &env["NEW_CEPH_CONF"], &vid);
    let cold_s = cold.verified.expect("cold verified");
    let window = cut.verified.expect("cutover verified");
    println!("cutover bench: 8 GiB volume holding 2 GiB, 64 MiB changed before each of round 2 and the cutover");
    println!(
        "  (each timed step starts once the machine is near idle: under 0.2 of a core busy for 0.5 s; up to {:.1} s waited)",
        common::most_settled()
    );
    println!(
        "  cold one-pass copy (go → verified):   {cold_s:7.2} s  (command {:.2} s)",
        cold.total
    );
    println!(
        "  round 1 (full copy, command):         {:7.2} s;  round 2 (command): {:.2} s",
        round1.total, round2.total
    );
    println!(
        "  cutover window (go → verified):      {window:7.2} s  (command {:.2} s; final round + finish {:.2} s)",
        cut.total,
        cut.from_stage.unwrap_or(f64::NAN)
    );
    println!(
        "  window / cold copy:                   {:7.3}  (goal ≤ 0.10)",
        window / cold_s
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = cut.busy_to_verified.unwrap_or(f64::NAN);
    println!(
        "  whole machine in the window:           {busy:.2} CPU-s busy in {window:.2} s = {:.2} of {cores} cores",
        busy / window
    );
    println!(
        "  raw floor of the final round (rbd only, same delta): {:.2} s = snapshot + export-diff | import-diff {raw_delta:.2} s + read-back {raw_read:.2} s;  window / floor {:.2}",
        raw_delta + raw_read,
        window / (raw_delta + raw_read)
    );
    println!(
        "  raw pipeline doing the final round's work (no snapshot: export-diff --from-snap of the live source | import-diff, then its read-back; 64 MiB more written): {:.2} s = {live:.2} s + read-back {live_back:.2} s = {:.3} of the cold copy;  final round + finish / it {:.2}",
        live + live_back,
        (live + live_back) / cold_s,
        cut.from_stage.unwrap_or(f64::NAN) / (live + live_back)
    );
    println!(
        "  raw I/O of the same size (rbd bench, 64 KiB random): source read {io_read:.2} s, new write {io_write:.2} s, read back {io_back:.2} s; sum {:.2} s = {:.3} of the cold copy",
        io_read + io_write + io_back,
        (io_read + io_write + io_back) / cold_s
    );
    let rate = 2.0 * GIB as f64 / cold_s;
    println!(
        "  64 MiB at the cold copy's rate:       {:7.2} s;  the rest of the window: {:.2} s",
        64.0 * MIB as f64 / rate,
        window - 64.0 * MIB as f64 / rate
    );
    let io = io_read + io_write + io_back;
    println!(
        "  fixed per-volume cost (same layout, nothing changed, go → verified): {:.2} s = {:.3} of the cold copy (final round + finish {:.2} s; {})",
        fixed.window,
        fixed.window / cold_s,
        fixed.from_stage,
        fixed.steps
    );
    println!(
        "  fixed cost + raw I/O of 64 MiB:       {:7.2} s = {:.3} of the cold copy;  window / (fixed + raw I/O) {:.2}",
        fixed.window + io,
        (fixed.window + io) / cold_s,
        window / (fixed.window + io)
    );
    println!(
        "  the final round's steps (log):        {}",
        final_round_steps(dir.path())
    );
    println!("  in the window (go → verified):");
    for line in cpu {
        println!("  {line}");
    }
    drop_copies(&new, &vid).await;
    c.delete_volume(&vid).await.expect("delete source");
}

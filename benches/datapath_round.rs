//! `BENCH_ONLY=round`: issue 11's cutover on the data path alone, with no
//! cloud, so that it also runs where only the two clusters do (the devbench
//! kit). In one run, on cutover.rs's layout (8 GiB holding 2 GiB in 4 MiB
//! runs every 16 MiB):
//! - the cold copy: ours verified while copying, with the export file (the
//!   engine's cold export), and rbd's `export-diff | tee FILE | import-diff`;
//! - the copy's state after a sync round (`stackmigrate-sync-1` on both
//!   images, the export file equal to it; not timed), then 64 MiB of random
//!   64 KiB writes to the source;
//! - ours: the final round as a cutover that is not forced runs it (both
//!   helpers started, the source locked and read as it is, written and read
//!   back as written, the new image's sync snapshots dropped while it
//!   writes), then both images hashed and compared (not timed);
//! - rbd's own final round on the same delta (snapshot, `export-diff
//!   --from-snap | import-diff`, the copy's diff read back) and the raw I/O of
//!   64 MiB of 64 KiB pieces (`rbd bench`).
//!
//! What the window adds to this in a cutover (login, listing, guard, the
//! Cinder marker) needs the clouds: `benches/cutover.rs`.

use super::common::{bench_64m, median, rbd, settle, sh, Meter, MIB};
use super::datapath_procs::{by_process, copied};
use super::datapath_raw::raw_diff_tee;
use super::{ours, Mode};
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter, DeltaRound, Extents};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

const GIB: u64 = 1 << 30;
const SYNC1: &str = "stackmigrate-sync-1";

/// Waits for the host's dirty pages to be written (the clusters' stores and
/// the export file: the steps before leave gigabytes), then for the cores.
fn quiet() {
    sh("sync");
    settle();
}

/// Wall seconds of one run's parts.
#[derive(Default)]
struct Round {
    cold_ours: Vec<f64>,
    cold_tee: Vec<f64>,
    round_ours: Vec<f64>,
    round_rbd: Vec<f64>,
    raw_io: Vec<f64>,
}

pub async fn round(old: &BlockStore, new: &BlockStore, (o, n): (&str, &str), dir: &std::path::Path, tag: u32) {
    let runs = super::common::bench_runs(1);
    let mut r = Round::default();
    for i in 0..runs {
        let src = format!("bench-round-{tag}-{i}");
        rbd(o, &["create", "--size", "8G", &format!("volumes/{src}")]);
        super::common::fill(o, &src, 8 * GIB, 2 * GIB, 16 * MIB, 7);
        quiet();
        let (tee, file) = (format!("{src}-tee"), dir.join(format!("{src}-tee.raw")));
        r.cold_tee.push(raw_diff_tee(o, n, (&src, 8 * GIB), &tee, &file).0);
        rbd(n, &["rm", "--no-progress", &format!("volumes/{tee}")]);
        quiet();
        let cold = ours(old, new, dir, &src, &format!("{src}-cold"), Mode::ReadBack, false).await;
        r.cold_ours.push(cold.0);

        // After round 1: sync-1 on both images, the export file equal to it.
        let (dst, raw) = (format!("{src}-new"), format!("{src}-raw"));
        let file = dir.join(format!("{src}.raw"));
        sh(&format!(
            "rbd --conf {o} --id admin snap create --no-progress volumes/{src}@{SYNC1} >/dev/null && rbd --conf {o} --id admin export --no-progress volumes/{src}@{SYNC1} {}",
            file.display()
        ));
        for copy in [&dst, &raw] {
            rbd(n, &["create", "--size", "8G", &format!("volumes/{copy}")]);
            sh(&format!(
                "rbd --conf {o} --id admin export-diff --no-progress volumes/{src}@{SYNC1} - | rbd --conf {n} --id admin import-diff --no-progress - volumes/{copy}"
            ));
        }
        bench_64m(o, "write", &format!("volumes/{src}"));
        quiet();
        let mut took = 0.0;
        by_process("ours: the cutover's final round, 64 MiB changed", async {
            took = final_round(old, new, &src, &dst, &file).await;
        })
        .await;
        r.round_ours.push(took);
        let cancel = CancellationToken::new();
        let (a, _) = old
            .hash_image(&src, Scheme::CURRENT, Counter::default(), &cancel)
            .await
            .expect("hash source");
        let (b, _) = new
            .hash_image(&dst, Scheme::CURRENT, Counter::default(), &cancel)
            .await
            .expect("hash copy");
        assert_eq!(a, b, "the new image equals the source after the final round");

        quiet();
        let (oc, nc) = (
            format!("rbd --conf {o} --id admin"),
            format!("rbd --conf {n} --id admin"),
        );
        let t = Instant::now();
        sh(&format!(
            "{oc} snap create --no-progress volumes/{src}@raw-b >/dev/null && {oc} export-diff --no-progress --from-snap {SYNC1} volumes/{src}@raw-b - | {nc} import-diff --no-progress - volumes/{raw} && {nc} export-diff --no-progress --from-snap {SYNC1} volumes/{raw}@raw-b - >/dev/null"
        ));
        r.round_rbd.push(t.elapsed().as_secs_f64());
        let scratch = format!("{src}-io");
        rbd(n, &["create", "--size", "8G", &format!("volumes/{scratch}")]);
        quiet();
        let (src_spec, scratch_spec) = (format!("volumes/{src}"), format!("volumes/{scratch}"));
        let io = bench_64m(o, "read", &src_spec)
            + bench_64m(n, "write", &scratch_spec)
            + bench_64m(n, "read", &scratch_spec);
        r.raw_io.push(io);

        sh(&format!(
            "{oc} snap purge --no-progress volumes/{src} && {oc} rm --no-progress volumes/{src}"
        ));
        sh(&format!("{nc} snap purge --no-progress volumes/{raw}"));
        for image in [&dst, &raw, &scratch] {
            rbd(n, &["rm", "--no-progress", &format!("volumes/{image}")]);
        }
        std::fs::remove_file(&file).expect("rm file");
    }
    r.print(runs);
}

/// The final round of a cutover that is not forced, as `volume_sync.rs`
/// runs it: helpers started, the reader sent `lock`, the delta applied and
/// read back as written. Returns its wall seconds.
async fn final_round(old: &BlockStore, new: &BlockStore, src: &str, dst: &str, file: &std::path::Path) -> f64 {
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let meter = Meter::start();
    let ahead = (src, SYNC1, "stackmigrate-sync-2");
    let mut helpers = old
        .start_round(new, ahead, dst, Some("stackmigrate-sync-"))
        .await
        .expect("helpers")
        .expect("python3-rbd: the rounds' librbd helpers");
    assert!(old.lockable(new, src).await, "lockable source");
    helpers.lock_source_now();
    let started = start.elapsed().as_secs_f64();
    let size = old.image_size(src).await.expect("size");
    let dirty = Extents::default();
    let round = DeltaRound {
        image: src,
        from: SYNC1,
        to: "stackmigrate-sync-2",
        target: new,
        target_image: dst,
        file,
        size,
        snap_target: false,
        dirty: &dirty,
        strays: &Default::default(),
        drop_target_snaps: Some("stackmigrate-sync-"),
        lock_source: true,
        stall: std::time::Duration::from_secs(60),
    };
    let mut applied = old
        .apply_delta(&round, Some(helpers), Counter::default(), &cancel)
        .await
        .expect("final round");
    let took = start.elapsed().as_secs_f64();
    copied(start);
    let spent = meter.stop();
    let helper = match stackmigrate::storage::compiled_helper::CompiledHelper::ready() {
        Some(_) => "compiled helper",
        None => "Python helpers",
    };
    println!(
        "  {} changed, {} read back as written ({helper}); helpers started and lock sent in {started:.2} s; {}",
        stackmigrate::units::bytes(applied.bytes),
        stackmigrate::units::bytes(applied.read_back.unwrap_or(0)),
        spent.line()
    );
    // Verified; the writer may still be removing the new image's snapshots (after the timed part, as in a cutover).
    if let Some(drop) = applied.snap_drop.take() {
        drop.wait().await.expect("the new image's sync snapshots removed");
    }
    took
}

impl Round {
    fn print(self, runs: usize) {
        let m = |v: &Vec<f64>| median(v.clone());
        let (cold, round) = (m(&self.cold_ours), m(&self.round_ours));
        let (tee, rbd_round, io) = (m(&self.cold_tee), m(&self.round_rbd), m(&self.raw_io));
        println!("cutover's final round, data path alone (8 GiB holding 2 GiB; 64 MiB of random 64 KiB writes), median of {runs}:");
        println!(
            "  cold copy, ours (verified, export file)        {cold:7.2} s   runs {:?}",
            self.cold_ours
        );
        println!(
            "  cold copy, rbd export-diff | tee | import-diff {tee:7.2} s   runs {:?}",
            self.cold_tee
        );
        println!(
            "  final round, ours (read back as written)       {round:7.2} s   runs {:?}",
            self.round_ours
        );
        println!(
            "  final round, rbd (snap, diff pipe, read-back)  {rbd_round:7.2} s   runs {:?}",
            self.round_rbd
        );
        println!(
            "  raw I/O of 64 MiB (read + write + read back)   {io:7.2} s   runs {:?}",
            self.raw_io
        );
        println!(
            "  ours: round / cold copy {:.3} (issue 11's goal for the whole window: ≤ 0.10);  rbd: round / tee copy {:.3};  raw I/O / our cold copy {:.3}",
            round / cold,
            rbd_round / tee,
            io / cold
        );
    }
}

//! `BENCH_ONLY=procs`: where the CPU goes, process by process, in the raw
//! pipe and in stackmigrate's copy of the same 1 GiB image, alternating
//! (`BENCH_RUNS` pairs; `BENCH_NO_FILE=1` for the copy with no export file,
//! `BENCH_READBACK=1` for the verified copy). Goals 2 and 4 are whole-machine
//! CPU against the raw pipe's: this says which process the difference is in.

use super::common::{rbd, settle};
use super::datapath_raw::raw_pipe;
use super::proc_cpu::ProcCpu;
use super::{ours, Mode};
use stackmigrate::storage::BlockStore;
use std::sync::Mutex;
use std::time::Instant;

/// The span of the last copy `ours` timed (without its `rbd du` before and
/// its whole-image check after), for the table.
static COPIED: Mutex<Option<(Instant, Instant)>> = Mutex::new(None);

/// `ours` says when its copy started; it ended now.
pub fn copied(start: Instant) {
    *COPIED.lock().expect("copied") = Some((start, Instant::now()));
}

/// Runs `work` under a [`ProcCpu`] sampler and prints its table.
pub async fn by_process<F: std::future::Future<Output = ()>>(what: &str, work: F) {
    let own = std::env::args().next().unwrap_or_default();
    let sampler = ProcCpu::start(&own);
    // The sampler's clock: its spans are seconds after its start.
    let t0 = Instant::now();
    let at = |t: Instant| t.saturating_duration_since(t0).as_secs_f64();
    // Let the sampler take its first sample before the work starts.
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    let start = Instant::now();
    COPIED.lock().expect("copied").take();
    work.await;
    let (from, to) = match COPIED.lock().expect("copied").take() {
        Some((a, b)) => (at(a), at(b)),
        None => (at(start), at(Instant::now())),
    };
    println!("{what}: {:.2} s", to - from);
    tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    for line in sampler.report(from, to, "  ") {
        println!("{line}");
    }
}

/// The raw pipe and ours (the mode from `BENCH_NO_FILE` / `BENCH_READBACK`),
/// `BENCH_RUNS` times (2 by default), each under [`by_process`]; then the
/// source image goes.
pub async fn alternate(
    old: &BlockStore,
    new: &BlockStore,
    (old_conf, new_conf): (&str, &str),
    dir: &std::path::Path,
    random: &str,
    tag: u32,
) {
    let mode = Mode::from_env();
    let runs = super::common::bench_runs(2);
    for i in 0..runs {
        let dest = format!("bench-raw-{tag}-{i}");
        settle();
        by_process("raw rbd export - | rbd import -", async {
            raw_pipe(old_conf, new_conf, random, &dest);
        })
        .await;
        rbd(new_conf, &["rm", "--no-progress", &format!("volumes/{dest}")]);
        settle();
        let dest = format!("bench-ours-{tag}-{i}");
        by_process("stackmigrate", async {
            ours(old, new, dir, random, &dest, mode, false).await;
        })
        .await;
    }
    rbd(old_conf, &["rm", "--no-progress", &format!("volumes/{random}")]);
}

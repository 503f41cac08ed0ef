//! Data-path benchmark on the real testbed (`bash testbed/up.sh` first, or
//! run `scripts/bench-datapath.sh`). Prints, in one run:
//! - a raw `rbd export - | rbd import -` pipe between the two clusters, and
//!   `rbd export-diff | tee FILE | rbd import-diff`, against stackmigrate's
//!   export + import (with the file, without, verified while copying with and
//!   without, the resume path) of the same 1 GiB random image; beside them rbd
//!   doing a verified copy's work (the pipe with an equal copy read back, with
//!   and without the file; the pipe with the new OSD hashing an equal copy,
//!   goal 3's floor, also alone against ours with `BENCH_ONLY=floor`) and the
//!   disk under both clusters, read and written at once, with the floor it
//!   sets for each copy;
//! - an 8 GiB image holding 256 MiB against a fully written 256 MiB image;
//! - (`BENCH_ONLY=dense8`, apart) an 8 GiB dense image, raw pipe against ours;
//! - (`BENCH_ONLY=round`, apart) issue 11's cutover final round on the data
//!   path alone, against the cold copy of the same volume;
//! - the peak RSS of this process, which runs the whole data path in-process,
//!   one copy at a time and with 4 exports and 4 imports in flight;
//! - per-thread CPU during one copy, and the fixed per-volume cost (`migrate`
//!   of an empty 1 GiB volume).

use stackmigrate::config::CephConfig;
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter, ExportTargets, RbdStore, StageOutcome, StageTarget};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[path = "binary_run.rs"]
mod binary_run;
#[path = "common.rs"]
mod common;
#[path = "datapath_dense.rs"]
mod datapath_dense;
#[path = "datapath_floor.rs"]
mod datapath_floor;
#[path = "datapath_procs.rs"]
mod datapath_procs;
#[path = "datapath_raw.rs"]
mod datapath_raw;
#[path = "datapath_round.rs"]
mod datapath_round;
#[path = "datapath_rss.rs"]
mod datapath_rss;
#[path = "datapath_summary.rs"]
mod datapath_summary;
#[path = "proc_cpu.rs"]
mod proc_cpu;
use common::{env, median, rbd, Meter, MIB};
use datapath_raw::{
    disk_mixed_mib_s, raw_diff_tee, raw_pipe, raw_pipe_with_checksums, raw_pipe_with_read_back,
    raw_pipe_with_read_back_and_file, raw_read_back,
};
use datapath_rss::{four_and_four, peak_rss_mib};
use datapath_summary::OneGib;

const RUNS: usize = 3;

fn ceph(conf: &str) -> CephConfig {
    CephConfig {
        conf: conf.into(),
        id: "admin".into(),
        keyring: None,
        pool: "volumes".into(),
    }
}

/// Creates `image` of `size` bytes holding `data` bytes in 4 MiB runs every `stride`.
fn make_image(conf: &str, image: &str, size: u64, data: u64, stride: u64) {
    rbd(
        conf,
        &["create", "--size", &format!("{size}B"), &format!("volumes/{image}")],
    );
    common::fill(conf, image, size, data, stride, 1);
}

fn targets<'a>(file: &'a std::path::Path, stage: StageTarget<'a>) -> ExportTargets<'a> {
    let file = (!file.as_os_str().is_empty()).then_some(file);
    ExportTargets {
        file,
        stage: Some(stage),
        tape: None,
        // As the engine reads a detached source: under its exclusive lock
        // (BENCH_EXPORT_DIFF=1: `rbd export-diff` of the image, for an A/B).
        locked: std::env::var("BENCH_EXPORT_DIFF").is_err(),
    }
}

/// How `ours` copies: streamed into the new cluster while the export file is
/// written, streamed with no export file, or imported afterwards from the file
/// (the resume path); `ReadBack` and `NoFileReadBack` with the stage reading
/// each extent back as it lands (the engine's way where `python3-rbd` is).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Staged,
    ReadBack,
    NoFile,
    NoFileReadBack,
    FromFile,
}

impl Mode {
    /// `BENCH_READBACK=1`: verified while copying; `BENCH_NO_FILE`: no
    /// export file (both: the engine's `--no-export-file`); else the file written.
    fn from_env() -> Self {
        match (
            std::env::var("BENCH_NO_FILE"),
            std::env::var("BENCH_READBACK").as_deref(),
        ) {
            (Ok(_), Ok("1")) => Mode::NoFileReadBack,
            (_, Ok("1")) => Mode::ReadBack,
            (Ok(_), _) => Mode::NoFile,
            _ => Mode::Staged,
        }
    }
}

/// stackmigrate's export and import (and the verify read) of `image`.
async fn ours(
    old: &BlockStore,
    new: &BlockStore,
    dir: &std::path::Path,
    image: &str,
    dest: &str,
    mode: Mode,
    threads: bool,
) -> (f64, f64, f64) {
    let cancel = CancellationToken::new();
    let reads_back = matches!(mode, Mode::ReadBack | Mode::NoFileReadBack);
    let file = match mode {
        Mode::NoFile | Mode::NoFileReadBack => std::path::PathBuf::new(),
        _ => dir.join(format!("{image}.raw")),
    };
    // The engine's export takes pre-flight's measure (goal 1: no second
    // `rbd du`), so the copy is timed from after it.
    let size = match mode {
        Mode::FromFile => 0,
        _ => old.usage(image, &cancel).await.expect("du").0,
    };
    let start = Instant::now();
    let meter = Meter::start();
    let sampler = threads.then(common::ThreadSampler::start);
    let exported = if mode == Mode::FromFile {
        let e = old
            .export_to_file(image, &file, Counter::default(), &cancel)
            .await
            .expect("export");
        new.import_from_file(&file, dest, Counter::default(), &cancel)
            .await
            .expect("import");
        e
    } else {
        let stage = StageTarget {
            store: new,
            image: dest,
            size,
            stall: stackmigrate::engine::STAGE_STALL,
            read_back: reads_back,
        };
        let (e, outcome) = old
            .export_staged(image, targets(&file, stage), Counter::default(), &cancel)
            .await
            .expect("export");
        assert_eq!(outcome, StageOutcome::Done, "streamed");
        e
    };
    let copy = start.elapsed().as_secs_f64();
    datapath_procs::copied(start);
    let cpu = meter.stop().cpu;
    if let Some(s) = sampler {
        s.print(&format!("export + import of {image}"));
    }
    let with_verify = if reads_back {
        // Verified while copying: the stage's read-back checksum.
        assert_eq!(exported.read_back.as_ref(), Some(&exported.hash), "read back");
        copy
    } else {
        -1.0
    };
    // The whole image read back after the copy (untimed where it was read back already).
    let (hash, _) = new
        .hash_image(dest, Scheme::CURRENT, Counter::default(), &cancel)
        .await
        .expect("verify");
    assert_eq!(hash, exported.hash, "verified");
    let with_verify = if with_verify < 0.0 {
        start.elapsed().as_secs_f64()
    } else {
        with_verify
    };
    new.remove(dest, &cancel).await.expect("rm");
    if !file.as_os_str().is_empty() {
        std::fs::remove_file(&file).expect("rm file");
    }
    (copy, with_verify, cpu)
}

#[tokio::main]
async fn main() {
    let env = env();
    // BENCH_ONLY=fixed: just the fixed per-volume cost (quick to rerun).
    if std::env::var("BENCH_ONLY").as_deref() == Ok("fixed") {
        binary_run::fixed_cost(&env).await;
        return;
    }
    let (old_conf, new_conf) = (env["OLD_CEPH_CONF"].clone(), env["NEW_CEPH_CONF"].clone());
    let (old, new) = (
        BlockStore::Rbd(RbdStore::new(&ceph(&old_conf))),
        BlockStore::Rbd(RbdStore::new(&ceph(&new_conf))),
    );
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).expect("tmp");
    let tag = std::process::id();
    if std::env::var("BENCH_ONLY").as_deref() == Ok("dense8") {
        datapath_dense::dense(&old, &new, (&old_conf, &new_conf), dir.path(), tag).await;
        return;
    }
    // BENCH_ONLY=round: issue 11's final round on the data path alone, against the cold copy.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("round") {
        datapath_round::round(&old, &new, (&old_conf, &new_conf), dir.path(), tag).await;
        return;
    }
    let (random, sparse, full) = (
        format!("bench-random-{tag}"),
        format!("bench-sparse-{tag}"),
        format!("bench-full-{tag}"),
    );
    make_image(&old_conf, &random, 1024 * MIB, 1024 * MIB, 4 * MIB);
    // BENCH_ONLY=rss: just the peak RSS with 4 exports and 4 imports in flight.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("rss") {
        four_and_four(&old, &new, dir.path(), &random, tag).await;
        rbd(&old_conf, &["rm", "--no-progress", &format!("volumes/{random}")]);
        return;
    }
    // BENCH_ONLY=floor: goal 3's floor (the raw pipe with the OSD's checksum pass beside it) against ours.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("floor") {
        datapath_floor::floor(&old, &new, (&old_conf, &new_conf), dir.path(), &random, tag).await;
        return;
    }
    // BENCH_ONLY=procs: the raw pipe and ours, alternating, CPU by process.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("procs") {
        datapath_procs::alternate(&old, &new, (&old_conf, &new_conf), dir.path(), &random, tag).await;
        return;
    }
    // BENCH_ONLY=copy: one export + import of the 1 GiB image (for a profiler);
    // BENCH_READBACK=1 with the read-back stage.
    if std::env::var("BENCH_ONLY").as_deref() == Ok("copy") {
        let mode = Mode::from_env();
        let (c, v, cpu) = ours(
            &old,
            &new,
            dir.path(),
            &random,
            &format!("bench-ours-{tag}"),
            mode,
            true,
        )
        .await;
        println!("copy {c:.2} s, + verify {v:.2} s, {cpu:.2} CPU-s");
        rbd(&old_conf, &["rm", "--no-progress", &format!("volumes/{random}")]);
        return;
    }
    make_image(&old_conf, &sparse, 8192 * MIB, 256 * MIB, 128 * MIB);
    make_image(&old_conf, &full, 256 * MIB, 256 * MIB, 4 * MIB);

    if let Some(a) = common::store_allocated(&new_conf) {
        println!("the new cluster's store file: {a} allocated by the host (a sparse file: copies that land on new space are slower)");
    }
    let mut one = OneGib {
        disk_mib_s: disk_mixed_mib_s(dir.path()),
        ..OneGib::default()
    };
    for i in 0..RUNS {
        let dest = format!("bench-raw-{tag}-{i}");
        let raw = raw_pipe(&old_conf, &new_conf, &random, &dest);
        one.pipe.push(raw);
        let teed = format!("{dest}-tee");
        let raw_file = dir.path().join(format!("raw-{tag}-{i}.raw"));
        one.diff_tee.push(raw_diff_tee(
            &old_conf,
            &new_conf,
            (&random, 1024 * MIB),
            &teed,
            &raw_file,
        ));
        rbd(&new_conf, &["rm", "--no-progress", &format!("volumes/{teed}")]);
        let again = format!("{dest}-again");
        one.raw_beside
            .push(raw_pipe_with_read_back(&old_conf, &new_conf, &random, &again, &dest));
        rbd(&new_conf, &["rm", "--no-progress", &format!("volumes/{again}")]);
        one.raw_beside_sums
            .push(raw_pipe_with_checksums(&old_conf, &new_conf, &random, &again, &dest));
        rbd(&new_conf, &["rm", "--no-progress", &format!("volumes/{again}")]);
        one.raw_beside_file.push(raw_pipe_with_read_back_and_file(
            &old_conf,
            &new_conf,
            (&random, &again, &dest),
            &raw_file,
        ));
        rbd(&new_conf, &["rm", "--no-progress", &format!("volumes/{again}")]);
        let (rw, rcpu) = raw_read_back(&new, &new_conf, &dest).await;
        one.raw_then_read.push((raw.0 + rw, raw.1 + rcpu));
        let name = |what: &str| format!("bench-{what}-{tag}-{i}");
        let (c, v, cpu) = ours(&old, &new, dir.path(), &random, &name("ours"), Mode::Staged, i == 0).await;
        one.ours.push((c, cpu));
        one.ours_then_verify.push(v);
        for (mode, what) in [
            (Mode::NoFile, "nf"),
            (Mode::ReadBack, "rb"),
            (Mode::NoFileReadBack, "nfrb"),
        ] {
            let (c, _, cpu) = ours(&old, &new, dir.path(), &random, &name(what), mode, i == 0).await;
            match mode {
                Mode::NoFile => one.no_file.push((c, cpu)),
                Mode::ReadBack => one.read_back.push((c, cpu)),
                _ => one.no_file_read_back.push((c, cpu)),
            }
        }
        let from_file = ours(&old, &new, dir.path(), &random, &name("file"), Mode::FromFile, false).await;
        one.from_file.push(from_file.0);
    }
    one.print(RUNS);

    let (mut s8, mut f256) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        s8.push(
            ours(
                &old,
                &new,
                dir.path(),
                &sparse,
                &format!("bench-s-{tag}-{i}"),
                Mode::Staged,
                false,
            )
            .await
            .0,
        );
        f256.push(
            ours(
                &old,
                &new,
                dir.path(),
                &full,
                &format!("bench-f-{tag}-{i}"),
                Mode::Staged,
                false,
            )
            .await
            .0,
        );
    }
    let (s, f) = (median(s8), median(f256));
    println!("used bytes, not provisioned size, median of {RUNS}:");
    println!("  8 GiB image holding 256 MiB            {s:6.2} s");
    println!("  fully written 256 MiB image            {f:6.2} s");
    println!("  cost ratio {:.2} (provisioned ratio 32; goal: far below 32)", s / f);
    println!("peak RSS of the data path, one at a time: {:.1} MiB", peak_rss_mib());
    four_and_four(&old, &new, dir.path(), &random, tag).await;
    binary_run::fixed_cost(&env).await;
    for image in [&random, &sparse, &full] {
        rbd(&old_conf, &["rm", "--no-progress", &format!("volumes/{image}")]);
    }
}

//! Data-path benchmark on the real testbed (`bash testbed/up.sh` first, or
//! run `scripts/bench-datapath.sh`). Prints, in one run:
//! - a raw `rbd export - | rbd import -` pipe between the two clusters against
//!   stackmigrate's export + import (and + verify) of the same 1 GiB random image;
//! - an 8 GiB image holding 256 MiB against a fully written 256 MiB image;
//! - the peak RSS of this process, which runs the whole data path in-process.

use stackmigrate::config::CephConfig;
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter, RbdStore, StageOutcome, StageTarget};
use std::process::{Command, Stdio};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

#[path = "common.rs"]
mod common;
use common::{env, median, rbd, Meter, MIB};

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

fn raw_pipe(old: &str, new: &str, image: &str, dest: &str) -> (f64, f64) {
    let start = Meter::start();
    let mut export = Command::new("rbd")
        .args([
            "--conf",
            old,
            "--id",
            "admin",
            "export",
            "--no-progress",
            &format!("volumes/{image}"),
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("export");
    let import = Command::new("rbd")
        .args([
            "--conf",
            new,
            "--id",
            "admin",
            "import",
            "--no-progress",
            "-",
            &format!("volumes/{dest}"),
        ])
        .stdin(export.stdout.take().expect("stdout"))
        .status()
        .expect("import");
    assert!(export.wait().expect("wait").success() && import.success());
    let t = start.stop();
    rbd(new, &["rm", "--no-progress", &format!("volumes/{dest}")]);
    (t.wall, t.cpu)
}

/// stackmigrate's export and import (and the verify read) of `image`:
/// streamed into the new cluster while exporting (the normal path), or, with
/// `from_file`, imported afterwards from the export file (the resume path).
async fn ours(
    old: &BlockStore,
    new: &BlockStore,
    dir: &std::path::Path,
    image: &str,
    dest: &str,
    from_file: bool,
) -> (f64, f64, f64) {
    let cancel = CancellationToken::new();
    let file = dir.join(format!("{image}.raw"));
    let start = Instant::now();
    let meter = Meter::start();
    let exported = if from_file {
        let e = old
            .export_to_file(image, &file, Counter::default(), &cancel)
            .await
            .expect("export");
        new.import_from_file(&file, dest, Counter::default(), &cancel)
            .await
            .expect("import");
        e
    } else {
        let (size, _) = old.usage(image, &cancel).await.expect("du");
        let stage = StageTarget {
            store: new,
            image: dest,
            size,
            stall: stackmigrate::engine::STAGE_STALL,
        };
        let (e, outcome) = old
            .export_staged(image, &file, Some(stage), Counter::default(), &cancel)
            .await
            .expect("export");
        assert_eq!(outcome, StageOutcome::Done, "streamed");
        e
    };
    let copy = start.elapsed().as_secs_f64();
    let cpu = meter.stop().cpu;
    let (hash, _) = new
        .hash_image(dest, Scheme::CURRENT, Counter::default(), &cancel)
        .await
        .expect("verify");
    assert_eq!(hash, exported.hash, "verified");
    let with_verify = start.elapsed().as_secs_f64();
    new.remove(dest, &cancel).await.expect("rm");
    std::fs::remove_file(&file).expect("rm file");
    (copy, with_verify, cpu)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

#[tokio::main]
async fn main() {
    let env = env();
    let (old_conf, new_conf) = (env["OLD_CEPH_CONF"].clone(), env["NEW_CEPH_CONF"].clone());
    let (old, new) = (
        BlockStore::Rbd(RbdStore::new(&ceph(&old_conf))),
        BlockStore::Rbd(RbdStore::new(&ceph(&new_conf))),
    );
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).expect("tmp");
    let tag = std::process::id();
    let (random, sparse, full) = (
        format!("bench-random-{tag}"),
        format!("bench-sparse-{tag}"),
        format!("bench-full-{tag}"),
    );
    make_image(&old_conf, &random, 1024 * MIB, 1024 * MIB, 4 * MIB);
    make_image(&old_conf, &sparse, 8192 * MIB, 256 * MIB, 128 * MIB);
    make_image(&old_conf, &full, 256 * MIB, 256 * MIB, 4 * MIB);

    let (mut pipe, mut copy, mut verify, mut file) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut pipe_cpu, mut copy_cpu) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        let (w, cpu) = raw_pipe(&old_conf, &new_conf, &random, &format!("bench-raw-{tag}-{i}"));
        pipe.push(w);
        pipe_cpu.push(cpu);
        let (c, v, cpu) = ours(&old, &new, dir.path(), &random, &format!("bench-ours-{tag}-{i}"), false).await;
        copy.push(c);
        verify.push(v);
        copy_cpu.push(cpu);
        file.push(
            ours(&old, &new, dir.path(), &random, &format!("bench-file-{tag}-{i}"), true)
                .await
                .0,
        );
    }
    let (p, c, v, f) = (median(pipe), median(copy), median(verify), median(file));
    let (pc, cc) = (median(pipe_cpu), median(copy_cpu));
    println!("1 GiB random image, median of {RUNS}:");
    println!(
        "  raw rbd export - | rbd import -        {p:6.2} s  {:7.1} MiB/s",
        1024.0 / p
    );
    println!(
        "  stackmigrate export + import           {c:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.95)",
        1024.0 / c,
        p / c
    );
    println!(
        "  stackmigrate export + import + verify  {v:6.2} s  {:7.1} MiB/s   throughput ratio {:.2}",
        1024.0 / v,
        p / v
    );
    println!(
        "  CPU-s busy (whole machine): raw pipe {pc:.2} ({:.2} of {} cores), stackmigrate export + import {cc:.2} ({:.2} cores)",
        pc / p,
        common::cores(),
        cc / c
    );
    println!(
        "  resume path: export, then import file  {f:6.2} s  {:7.1} MiB/s   throughput ratio {:.2}",
        1024.0 / f,
        p / f
    );

    let (mut s8, mut f256) = (Vec::new(), Vec::new());
    for i in 0..RUNS {
        s8.push(
            ours(&old, &new, dir.path(), &sparse, &format!("bench-s-{tag}-{i}"), false)
                .await
                .0,
        );
        f256.push(
            ours(&old, &new, dir.path(), &full, &format!("bench-f-{tag}-{i}"), false)
                .await
                .0,
        );
    }
    let (s, f) = (median(s8), median(f256));
    println!("used bytes, not provisioned size, median of {RUNS}:");
    println!("  8 GiB image holding 256 MiB            {s:6.2} s");
    println!("  fully written 256 MiB image            {f:6.2} s");
    println!("  cost ratio {:.2} (provisioned ratio 32; goal: far below 32)", s / f);
    println!("peak RSS of the data path: {:.1} MiB (goal <= 64 MiB)", peak_rss_mib());
    for image in [&random, &sparse, &full] {
        rbd(&old_conf, &["rm", "--no-progress", &format!("volumes/{image}")]);
    }
}

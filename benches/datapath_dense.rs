//! `BENCH_ONLY=dense8`: issue 12's goals 2 and 3 on an 8 GiB dense image (the
//! raw pipe against stackmigrate's export + import with the export file
//! written, and the same verified while copied: wall time and whole-machine
//! CPU; `rbd export-diff | tee FILE | rbd import-diff`; the raw pipe with an
//! equal copy read back beside it, the same work by rbd alone; and the disk's
//! floor), apart from the full run because it takes minutes and
//! 8 GiB on each cluster. `BENCH_DENSE_GIB` changes the size, `BENCH_RUNS`
//! the number of runs (3).

use super::datapath_raw::{disk_mixed_mib_s, raw_diff_tee};
use super::{make_image, ours, raw_pipe, raw_pipe_with_read_back, Mode};
use crate::common::{self, median, rbd, MIB};
use stackmigrate::storage::BlockStore;
use std::path::Path;

pub async fn dense(old: &BlockStore, new: &BlockStore, (old_conf, new_conf): (&str, &str), dir: &Path, tag: u32) {
    let gib: u64 = std::env::var("BENCH_DENSE_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let runs = super::common::bench_runs(super::RUNS);
    let image = format!("bench-dense-{tag}");
    make_image(old_conf, &image, gib << 30, gib << 30, 4 * MIB);
    let (mut pipe, mut pipe_cpu, mut copy, mut copy_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut verified, mut verified_cpu) = (Vec::new(), Vec::new());
    let (mut beside, mut beside_cpu) = (Vec::new(), Vec::new());
    let (mut teed, mut teed_cpu) = (Vec::new(), Vec::new());
    let disk = disk_mixed_mib_s(dir);
    for i in 0..runs {
        let dest = format!("bench-dense-raw-{tag}-{i}");
        let (w, cpu) = raw_pipe(old_conf, new_conf, &image, &dest);
        let tee_dest = format!("{dest}-tee");
        let (t, tcpu) = raw_diff_tee(
            old_conf,
            new_conf,
            (&image, gib << 30),
            &tee_dest,
            &dir.join(format!("{dest}.raw")),
        );
        rbd(new_conf, &["rm", "--no-progress", &format!("volumes/{tee_dest}")]);
        teed.push(t);
        teed_cpu.push(tcpu);
        let again = format!("{dest}-again");
        let (bw, bcpu) = raw_pipe_with_read_back(old_conf, new_conf, &image, &again, &dest);
        beside.push(bw);
        beside_cpu.push(bcpu);
        for d in [dest, again] {
            rbd(new_conf, &["rm", "--no-progress", &format!("volumes/{d}")]);
        }
        pipe.push(w);
        pipe_cpu.push(cpu);
        let dest = format!("bench-dense-ours-{tag}-{i}");
        let (c, _, cpu) = ours(old, new, dir, &image, &dest, Mode::Staged, i == 0).await;
        copy.push(c);
        copy_cpu.push(cpu);
        let dest = format!("bench-dense-verified-{tag}-{i}");
        let (c, _, cpu) = ours(old, new, dir, &image, &dest, Mode::ReadBack, false).await;
        println!(
            "  run {i}: raw pipe {w:.2} s, export-diff | tee FILE | import-diff {t:.2} s, with a read-back beside it {bw:.2} s, ours (file) {:.2} s, verified {c:.2} s ({:.2} / {:.2} of the raw pipe)",
            copy[i],
            w / bw,
            w / c
        );
        verified.push(c);
        verified_cpu.push(cpu);
    }
    rbd(old_conf, &["rm", "--no-progress", &format!("volumes/{image}")]);
    let (p, pc, c, cc) = (median(pipe), median(pipe_cpu), median(copy), median(copy_cpu));
    let (v, vc) = (median(verified), median(verified_cpu));
    let mib = (gib << 10) as f64;
    let (t, tc) = (median(teed), median(teed_cpu));
    println!("{gib} GiB dense image, median of {runs}:");
    println!(
        "  raw rbd export - | rbd import -        {p:6.2} s  {:7.1} MiB/s",
        mib / p
    );
    println!(
        "  raw rbd export-diff | tee FILE | rbd import-diff {t:6.2} s, CPU-s {tc:.2} ({:.2}x the raw pipe's): ratio {:.2} of the raw pipe; ours with the file is {:.2} of it, at {:.2} of its CPU",
        tc / pc,
        p / t,
        t / c,
        cc / tc
    );
    println!(
        "  the disk under both clusters, read and written at once: {disk:.0} MiB/s; a copy with the file moves 3 bytes through it per byte copied (floor {:.2} s: ratio {:.2} at best), a verified one with the file 4 ({:.2} s: {:.2} at best)",
        3.0 * mib / disk,
        p * disk / (3.0 * mib),
        4.0 * mib / disk,
        p * disk / (4.0 * mib)
    );
    println!(
        "  stackmigrate export + import (file)    {c:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.95)",
        mib / c,
        p / c
    );
    println!(
        "  CPU-s busy (whole machine): raw pipe {pc:.2} ({:.2} of {} cores), stackmigrate {cc:.2} ({:.2} cores) = {:.2}x (goal <= 1.25 where the cores are all busy)",
        pc / p,
        common::cores(),
        cc / c,
        cc / pc
    );
    let (bw, bc) = (median(beside), median(beside_cpu));
    println!(
        "  raw pipe with an equal copy read back beside it {bw:6.2} s  CPU-s {bc:.2}: the same work as a verified copy, by rbd alone; ratio {:.2} (a reference, not a ceiling: our read-back sends no bytes)",
        p / bw
    );
    println!(
        "  verified while copying (read-back stage) {v:6.2} s  {:7.1} MiB/s   throughput ratio {:.2} (goal >= 0.85); CPU-s {vc:.2} = {:.2}x the raw pipe's ({:.2} cores)",
        mib / v,
        p / v,
        vc / pc,
        vc / v
    );
}

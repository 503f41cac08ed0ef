//! `BENCH_ONLY=floor`: goal 3's floor on this machine, in one run. The 1 GiB
//! random image copied by the raw pipe alone; its copy hashed by the new
//! cluster's OSD alone (the engine's checksum read-back, [`checksum_pass`]);
//! the raw pipe with that checksum pass beside it, and with `rbd export` of
//! the copy beside it; then ours verified while copying, with no export file
//! and with it. `BENCH_RUNS` rounds (3 by default), medians; each run of the
//! pipe with the checksum pass and of ours verified with no file also prints
//! its CPU by process.

use super::common::{bench_runs, median, rbd, settle, store_allocated, Meter};
use super::datapath_procs::by_process;
use super::datapath_raw::{checksum_pass, raw_pipe, raw_pipe_with_checksums, raw_pipe_with_read_back};
use super::{ours, Mode};
use stackmigrate::storage::BlockStore;

/// Wall seconds of each copy, per run.
#[derive(Default)]
struct Floor {
    pipe: Vec<f64>,
    sums_alone: Vec<f64>,
    pipe_sums: Vec<f64>,
    pipe_export: Vec<f64>,
    ours_no_file: Vec<f64>,
    ours_file: Vec<f64>,
}

pub async fn floor(
    old: &BlockStore,
    new: &BlockStore,
    (old_conf, new_conf): (&str, &str),
    dir: &std::path::Path,
    random: &str,
    tag: u32,
) {
    let runs = bench_runs(3);
    let mut f = Floor::default();
    let at_start = store_allocated(new_conf).map_or(String::new(), |a| format!("{a} at the start"));
    for i in 0..runs {
        let dest = format!("bench-raw-{tag}-{i}");
        let again = format!("{dest}-again");
        let rm = |image: &str| rbd(new_conf, &["rm", "--no-progress", &format!("volumes/{image}")]);
        settle();
        f.pipe.push(raw_pipe(old_conf, new_conf, random, &dest).0);
        settle();
        let start = Meter::start();
        let ok = checksum_pass(new_conf, &dest).wait().expect("wait").success();
        assert!(ok, "checksum pass");
        f.sums_alone.push(start.stop().wall);
        settle();
        by_process("raw pipe with the OSD's checksum pass beside it", async {
            f.pipe_sums
                .push(raw_pipe_with_checksums(old_conf, new_conf, random, &again, &dest).0);
        })
        .await;
        rm(&again);
        settle();
        f.pipe_export
            .push(raw_pipe_with_read_back(old_conf, new_conf, random, &again, &dest).0);
        rm(&again);
        rm(&dest);
        settle();
        // Ours verified while copying: the copy's seconds.
        let verified = |what: &str, mode| {
            let dest = format!("bench-{what}-{tag}-{i}");
            async move { ours(old, new, dir, random, &dest, mode, false).await.0 }
        };
        by_process("stackmigrate verified while copying, no export file", async {
            f.ours_no_file.push(verified("nfrb", Mode::NoFileReadBack).await);
        })
        .await;
        settle();
        f.ours_file.push(verified("rb", Mode::ReadBack).await);
    }
    rbd(old_conf, &["rm", "--no-progress", &format!("volumes/{random}")]);
    let p = median(f.pipe.clone());
    let ratio = |v: &[f64]| (median(v.to_vec()), p / median(v.to_vec()));
    println!("goal 3's floor, 1 GiB random image, median of {runs} (wall s; ratio to the raw pipe):");
    if let Some(a) = store_allocated(new_conf) {
        println!(
            "  (the new cluster's store file: {a} allocated by the host at the end; {})",
            at_start
        );
    }
    println!(
        "  raw rbd export - | rbd import -                         {p:6.2}  {:?}",
        f.pipe
    );
    let (s, _) = ratio(&f.sums_alone);
    println!(
        "  the OSD's checksum pass over the copy, alone            {s:6.2}  {:?}",
        f.sums_alone
    );
    for (what, v) in [
        ("raw pipe + the OSD's checksum pass beside it", &f.pipe_sums),
        ("raw pipe + rbd export of the copy beside it", &f.pipe_export),
        ("ours verified while copying, no export file", &f.ours_no_file),
        ("ours verified while copying, export file", &f.ours_file),
    ] {
        let (w, r) = ratio(v);
        println!("  {what:<55} {w:6.2}  ratio {r:.2}  {v:?}");
    }
    let (ps, _) = ratio(&f.pipe_sums);
    let (nf, _) = ratio(&f.ours_no_file);
    println!(
        "  ours with no file is {:.2} of the raw pipe + checksum pass (the same work less our own hashing); goal 3 (>= 0.85) {} by that floor",
        ps / nf,
        if p / ps < 0.85 { "is out of reach here" } else { "is within reach" }
    );
}

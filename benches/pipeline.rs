//! Whole-run benchmark on the real testbed: 8 volumes, each partly written
//! with random data, migrated by stackmigrate (pipelined: exports, imports
//! and verification overlap across volumes) against the 2018 seed's way
//! (per volume, sequentially: `rbd export` to a file, then `rbd import`).
//! Goal: stackmigrate / seed <= 0.55. It first runs the same comparison on
//! the embedded simulated clouds with throttled stores (`pipeline_sim.rs`;
//! `BENCH_ONLY=sim` runs only that, without the testbed).
//!
//! Volumes of 1 GiB, 25 to 75 % written (256 to 768 MiB, about 4 GiB in all):
//! run it on bluestore (`TB_CEPH_STORE=bluestore`), as memstore would keep
//! about 2x that in RAM. `BENCH_SMALL=1` writes 96 to 288 MiB instead.

#[path = "common.rs"]
mod common;
#[path = "pipeline_sim.rs"]
mod pipeline_sim;
use common::{env, rbd, MIB};

use stackmigrate::config::Config;
use stackmigrate::engine::RunSetup;
use stackmigrate::openstack::{Cinder, Keystone, NewVolume, Session, Volume};
use std::sync::Arc;
use std::time::Duration;

const VOLUMES: u64 = 8;

/// MiB written into volume `i`: 256 .. 768 (or 96 .. 288 with `BENCH_SMALL`).
fn written(i: u64) -> u64 {
    let (low, high) = if std::env::var_os("BENCH_SMALL").is_some() {
        (96, 288)
    } else {
        (256, 768)
    };
    low + (high - low) * i / (VOLUMES - 1)
}

async fn sources(s: &Session, conf: &str) -> Vec<Volume> {
    let c = Cinder::new(s);
    let mut out = Vec::new();
    for i in 0..VOLUMES {
        let name = format!("bench-pipeline-{}-{i}", std::process::id());
        let v = c
            .create_volume(&NewVolume {
                size: 1,
                name: Some(name),
                ..Default::default()
            })
            .await
            .expect("create");
        let v = c
            .wait_for_status(&v.id, &["available"], Duration::from_secs(120))
            .await
            .expect("available");
        let data = written(i) * MIB;
        common::fill(conf, &format!("volume-{}", v.id), 1 << 30, data, 8 * MIB, i + 1);
        out.push(v);
    }
    out
}

fn seed_way(old: &str, new: &str, vols: &[Volume], dir: &std::path::Path) -> common::Spent {
    let t = common::Meter::start();
    for v in vols {
        let file = dir.join(format!("seed-{}.raw", v.id));
        let f = file.display().to_string();
        rbd(
            old,
            &["export", "--no-progress", &format!("volumes/volume-{}", v.id), &f],
        );
        rbd(new, &["import", "--no-progress", &f, &format!("volumes/seed-{}", v.id)]);
        std::fs::remove_file(&file).expect("rm");
    }
    let spent = t.stop();
    for v in vols {
        rbd(new, &["rm", "--no-progress", &format!("volumes/seed-{}", v.id)]);
    }
    spent
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // First on the throttled simulated clouds (no testbed needed), then on the testbed.
    pipeline_sim::run().await;
    if std::env::var("BENCH_ONLY").as_deref() == Ok("sim") {
        return;
    }
    let env = env();
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).expect("tmp");
    let creds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/.state/credentials.json");
    let (mut cfg, _) = Config::from_json_file(&creds).expect("testbed credentials");
    cfg.work_dir = dir.path().join("work");
    cfg.export_dir = Some(dir.path().join("exports"));
    cfg.tape = None;
    cfg.usage = None;
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let vols = sources(&old, &env["OLD_CEPH_CONF"]).await;

    let seed = seed_way(&env["OLD_CEPH_CONF"], &env["NEW_CEPH_CONF"], &vols, dir.path());

    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    let setup = RunSetup::new(&cfg, old.clone(), new, project, None).expect("setup");
    let t = common::Meter::start();
    let mut run = setup
        .start(&cfg, vols.clone(), Default::default())
        .await
        .expect("start");
    while run.events.recv().await.is_some() {}
    let summary = run.engine.await.expect("join").expect("engine");
    let ours = t.stop();
    assert_eq!(summary.verified, vols.len(), "{summary:?}");

    println!(
        "{VOLUMES} volumes of 1 GiB holding {}..{} MiB each:",
        written(0),
        written(VOLUMES - 1)
    );
    println!(
        "  seed's way (sequential rbd export to file, rbd import)  {}",
        seed.line()
    );
    println!(
        "  stackmigrate (pipelined, with Cinder create + verify)    {}",
        ours.line()
    );
    println!("  ratio {:.2} (goal <= 0.55)", ours.wall / seed.wall);
    println!(
        "  CPU: stackmigrate's whole job costs {:.2}x the seed's CPU-seconds; on {} cores it cannot take less than {:.2} s ({:.2} of the seed's time)",
        ours.cpu / seed.cpu,
        common::cores(),
        ours.cpu / common::cores() as f64,
        ours.cpu / common::cores() as f64 / seed.wall
    );
    stage_seconds(&cfg.work_dir);

    let news = Session::new("new", &cfg.new_cloud).expect("new");
    let c_new = Cinder::new(&news);
    for v in c_new.list_volumes(None).await.expect("list") {
        if v.metadata
            .get("stackmigrate.source_volume_id")
            .is_some_and(|s| vols.iter().any(|x| &x.id == s))
        {
            let _ = c_new.delete_volume(&v.id).await;
        }
    }
    let c_old = Cinder::new(&old);
    for v in &vols {
        let _ = c_old.delete_volume(&v.id).await;
    }
}

/// Prints the mean seconds per stage from the run's `report.json`.
fn stage_seconds(work: &std::path::Path) {
    let Some(report) = walk(work).into_iter().find(|p| p.ends_with("report.json")) else {
        return;
    };
    // BENCH_KEEP_REPORT=DIR: the run's report (and the project directory's files) kept for a timeline.
    if let (Ok(keep), Some(project)) = (std::env::var("BENCH_KEEP_REPORT"), report.parent()) {
        let to = std::path::Path::new(&keep).join(work.parent().and_then(|p| p.file_name()).unwrap_or_default());
        std::fs::create_dir_all(&to).expect("keep dir");
        for f in walk(project) {
            if let Some(name) = f.file_name() {
                let _ = std::fs::copy(&f, to.join(name));
            }
        }
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("json");
    let mut sums = std::collections::BTreeMap::<String, (f64, u32)>::new();
    for v in json["volumes"].as_array().into_iter().flatten() {
        for (stage, secs) in v["seconds"].as_object().into_iter().flatten() {
            let e = sums.entry(stage.clone()).or_default();
            e.0 += secs.as_f64().unwrap_or(0.0);
            e.1 += 1;
        }
    }
    let line: Vec<String> = sums
        .iter()
        .map(|(s, (t, n))| format!("{s} {:.2} s", t / f64::from(*n)))
        .collect();
    println!("  mean per volume: {}", line.join(", "));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

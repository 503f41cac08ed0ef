//! Whole-run benchmark on the real testbed: 8 volumes, each partly written
//! with random data, migrated by stackmigrate (pipelined: exports, imports
//! and verification overlap across volumes) against the 2018 seed's way
//! (per volume, sequentially: `rbd export` to a file, then `rbd import`).
//! Goal: stackmigrate / seed <= 0.55.
//!
//! Sizes are scaled to the testbed's in-memory OSDs (memstore keeps about 2x
//! the stored bytes in RAM): 1 GiB volumes holding 96 to 288 MiB.

#[path = "common.rs"]
mod common;
use common::{env, rbd, MIB};

use stackmigrate::config::Config;
use stackmigrate::engine::RunSetup;
use stackmigrate::openstack::{Cinder, Keystone, NewVolume, Session, Volume};
use std::sync::Arc;
use std::time::{Duration, Instant};

const VOLUMES: u64 = 8;

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
        let data = (96 + 192 * i / (VOLUMES - 1)) * MIB; // 96 .. 288 MiB
        common::fill(conf, &format!("volume-{}", v.id), 1 << 30, data, 8 * MIB, i + 1);
        out.push(v);
    }
    out
}

fn seed_way(old: &str, new: &str, vols: &[Volume], dir: &std::path::Path) -> f64 {
    let t = Instant::now();
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
    let secs = t.elapsed().as_secs_f64();
    for v in vols {
        rbd(new, &["rm", "--no-progress", &format!("volumes/seed-{}", v.id)]);
    }
    secs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let env = env();
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).expect("tmp");
    let creds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/.state/credentials.json");
    let (mut cfg, _) = Config::from_json_file(&creds).expect("testbed credentials");
    cfg.work_dir = dir.path().join("work");
    cfg.export_dir = dir.path().join("exports");
    cfg.tape = None;
    cfg.usage = None;
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let vols = sources(&old, &env["OLD_CEPH_CONF"]).await;

    let seed = seed_way(&env["OLD_CEPH_CONF"], &env["NEW_CEPH_CONF"], &vols, dir.path());

    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    let setup = RunSetup::new(&cfg, old.clone(), new, project, None).expect("setup");
    let t = Instant::now();
    let mut run = setup.start(&cfg, vols.clone(), false, false).await.expect("start");
    while run.events.recv().await.is_some() {}
    let summary = run.engine.await.expect("join").expect("engine");
    let ours = t.elapsed().as_secs_f64();
    assert_eq!(summary.verified, vols.len(), "{summary:?}");

    println!("{VOLUMES} volumes of 1 GiB holding 96..288 MiB each:");
    println!("  seed's way (sequential rbd export to file, rbd import)  {seed:6.2} s");
    println!("  stackmigrate (pipelined, with Cinder create + verify)    {ours:6.2} s");
    println!("  ratio {:.2} (goal <= 0.55)", ours / seed);

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

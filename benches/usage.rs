//! Usage-archive benchmark on the real testbed's nova-api: 96 monthly
//! queries (2018-01 .. 2025-12) sequential versus concurrent (limit 4), in
//! one run. Goal: concurrent / sequential <= 0.35.

use stackmigrate::config::Config;
use stackmigrate::openstack::{Nova, Session};
use stackmigrate::usage::months;
use std::path::PathBuf;

#[path = "common.rs"]
mod common;
use common::{median, Meter};

async fn run(session: &Session, project: &str, limit: usize) -> common::Spent {
    use futures_util::stream::{self, StreamExt};
    let start = stackmigrate::config::naive_time::parse("2018-01-01").expect("start");
    let end = stackmigrate::config::naive_time::parse("2026-01-01").expect("end");
    let ms = months(start, end);
    assert_eq!(ms.len(), 96);
    let t = Meter::start();
    let results: Vec<_> = stream::iter(ms)
        .map(|m| async move { Nova::new(session).usage_show(project, &m.start, &m.end, None).await })
        .buffered(limit)
        .collect()
        .await;
    assert!(results.iter().all(Result::is_ok), "every query answered");
    t.stop()
}

#[tokio::main]
async fn main() {
    let creds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testbed/.state/credentials-admin.json");
    let (cfg, _) =
        Config::from_json_file(&creds).unwrap_or_else(|e| panic!("{e}; start the testbed with `bash testbed/up.sh`"));
    let session = Session::new("old", &cfg.old_cloud).expect("session");
    let project = session
        .token()
        .await
        .expect("token")
        .project_id()
        .expect("project")
        .to_string();
    run(&session, &project, 4).await; // warm-up: token, connections
    let (mut seq, mut conc, mut seq_cpu, mut conc_cpu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let s = run(&session, &project, 1).await;
        seq.push(s.wall);
        seq_cpu.push(s.cpu);
        let c = run(&session, &project, 4).await;
        conc.push(c.wall);
        conc_cpu.push(c.cpu);
    }
    let (s, c, sc, cc) = (median(seq), median(conc), median(seq_cpu), median(conc_cpu));
    let cores = common::cores();
    println!("96 monthly usage queries against nova-api, median of 3:");
    println!(
        "  sequential            {s:6.2} s wall, {sc:6.2} CPU-s busy ({:.2} of {cores} cores)",
        sc / s
    );
    println!(
        "  concurrent (limit 4)  {c:6.2} s wall, {cc:6.2} CPU-s busy ({:.2} of {cores} cores)",
        cc / c
    );
    println!("  ratio {:.2} (goal <= 0.35)", c / s);
    println!(
        "  CPU: {:.1} ms per query; on {cores} cores 96 queries cannot take less than {:.2} s ({:.2} of sequential)",
        cc / 96.0 * 1000.0,
        cc / cores as f64,
        cc / cores as f64 / s
    );
}

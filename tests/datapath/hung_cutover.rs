//! A new cluster that hangs in a cutover's final round (paused):
//! the round fails after `stall_seconds`, the source's exclusive lock is let
//! go while the new cluster still hangs (its servers can start again), and
//! the cutover succeeds once the cluster answers again. Runs alone in CI
//! (`scripts/test.sh`): tests beside it would see their cluster hang.

use super::faults::{new_cluster_paused, source_qos, Unpause};
use super::warm_sync::{check_cut_over, remove_source};
use super::warm_sync_lock::{lockers, synced_once};
use crate::fixtures::*;
use crate::testbed::Testbed;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_new_cluster_fails_the_cutover_and_lets_go_of_the_source() {
    let tb = Testbed::get();
    let (v, dir, cfg) = synced_once(&tb, "hung cut", 57, 4 << 20).await;
    let (old_conf, image) = (tb.var("OLD_CEPH_CONF"), format!("volume-{}", v.id));
    // 256 MiB changed since round 1: the final round has that to move.
    write_regions(&old_conf, &image, GIB, &[(16 << 20, noise(58, 256 << 20))]);
    detach(&tb.operator("old"), &v.id).await;
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg).expect("cfg")).expect("json");
    json["stall_seconds"] = 3.into();
    std::fs::write(&cfg, json.to_string()).expect("write cfg");
    // The source read at 20 MiB/s: the final round takes seconds, so the
    // pause below lands inside it.
    source_qos(&tb, &image, Some(20 << 20));
    let unpause = Unpause(Testbed::get());
    let run = migrate_cmd(dir.path(), &cfg, &v.id, &["--cutover"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run stackmigrate");
    let pid = run.id();
    // The new cluster hangs once the final round begins to write.
    let log = dir.path().join("stackmigrate.log");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("round 2: guard passed") {
            new_cluster_paused(&tb, true);
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            kill(pid);
            panic!("no final round: {text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // A cutover that still hangs is the failure this test is for: it is
    // killed, and the cluster unpaused (`unpause`), before the test fails.
    let wait = tokio::task::spawn_blocking(move || run.wait_with_output());
    let out = match tokio::time::timeout(Duration::from_secs(120), wait).await {
        Ok(out) => out.expect("join").expect("wait"),
        Err(_) => {
            kill(pid);
            panic!("migrate --cutover still ran 120 s after the new cluster hung (stall_seconds: 3)");
        }
    };
    let said = expect_code(&out, 2);
    assert!(said.contains("took no data for 3 s"), "{said}");
    // The new cluster still hangs, and the source is free again.
    assert_eq!(lockers(&old_conf, &image), "[]", "the source's lock was let go");
    drop(unpause);
    source_qos(&tb, &image, None);
    // Back to the default: the new image's lock, held by the killed writer,
    // is broken once its watch times out (30 s).
    json["stall_seconds"] = 60.into();
    std::fs::write(&cfg, json.to_string()).expect("write cfg");
    expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

/// Kills the `migrate` this test started, by its PID.
fn kill(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

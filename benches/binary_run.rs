//! Shared by the benchmarks that time the real binary: `migrate` on one
//! volume of the testbed, timed from its JSON events.
#![allow(dead_code)]

use stackmigrate::openstack::{Cinder, Session};
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(300);

/// Seconds from start to the volume's `done` (verified) state, and to exit.
pub struct Timed {
    pub verified: Option<f64>,
    pub total: f64,
    pub code: Option<i32>,
    /// From the final round's start (`cutover started`) to verified.
    pub from_stage: Option<f64>,
    /// From the export's start to verified.
    pub from_export: Option<f64>,
    /// The whole machine's busy CPU-seconds from start to verified.
    pub busy_to_verified: Option<f64>,
}

pub fn migrate(dir: &Path, cfg: &Path, id: &str, extra: &[&str]) -> Timed {
    let busy = crate::common::cpu_busy_seconds();
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .arg("--config")
        .arg(cfg)
        .args(["migrate", "--project", "research", "--volumes", id, "--yes", "--json"])
        .args(extra)
        .arg("--log-file")
        .arg(dir.join("log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("stackmigrate");
    let (mut verified, mut stage_at, mut export_at, mut busy_to_verified) = (None, None, None, None);
    for line in std::io::BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line.unwrap_or_default()) else {
            continue;
        };
        let t = start.elapsed().as_secs_f64();
        if e["event"] == "stage_started" && e["stage"] == "cutover" {
            stage_at = Some(t);
        }
        if e["event"] == "stage_started" && e["stage"] == "export" && export_at.is_none() {
            export_at = Some(t);
        }
        if e["event"] == "state_changed" && e["phase"] == "done" && verified.is_none() {
            verified = Some(t);
            busy_to_verified = Some(crate::common::cpu_busy_seconds() - busy);
        }
    }
    let code = child.wait().expect("wait").code();
    Timed {
        verified,
        total: start.elapsed().as_secs_f64(),
        code,
        from_stage: stage_at.zip(verified).map(|(s, v)| v - s),
        from_export: export_at.zip(verified).map(|(s, v)| v - s),
        busy_to_verified,
    }
}

pub fn config(creds: &str, dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(creds).expect("read")).expect("json");
    cfg["work_dir"] = dir.join("work").display().to_string().into();
    cfg["export_dir"] = dir.join("exports").display().to_string().into();
    cfg.as_object_mut().expect("object").remove("tape");
    cfg.as_object_mut().expect("object").remove("usage");
    let path = dir.join("credentials.json");
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).expect("json")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// Deletes the new cloud's copies of `source`.
pub async fn drop_copies(new: &Session, source: &str) {
    let c = Cinder::new(new);
    for v in c.list_volumes(None).await.expect("list") {
        if v.metadata.get("stackmigrate.source_volume_id").map(String::as_str) == Some(source) {
            c.delete_volume(&v.id).await.expect("delete copy");
            c.wait_deleted(&v.id, WAIT).await.expect("deleted");
        }
    }
}

/// The fixed per-volume cost: `migrate` (the real binary) of an empty 1 GiB
/// volume, from its export's start to verified (no data moves, so all of it
/// is fixed cost), and from the command's start.
pub async fn fixed_cost(env: &std::collections::HashMap<String, String>) {
    use stackmigrate::openstack::{Cinder, Session};
    let Some(creds) = env.get("CREDENTIALS").cloned() else {
        // Clusters started alone (the 16-core kit) have no Keystone or Cinder.
        println!("fixed per-volume cost: not measured here: the env file names no CREDENTIALS (it needs the testbed's OpenStack services)");
        return;
    };
    let cfg = stackmigrate::config::Config::from_json_file(std::path::Path::new(&creds))
        .expect("credentials")
        .0;
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let c = Cinder::new(&old);
    let id = available_volume(&c, 1, "empty").await;
    let (mut export, mut go) = (Vec::new(), Vec::new());
    // Five: each snapshot waits on a monitor proposal, which varies most.
    for i in 0..5 {
        let dir = tempfile::tempdir().expect("tmp");
        let run = migrate(dir.path(), &config(&creds, dir.path()), &id, &[]);
        assert_eq!(run.code, Some(0), "migrate of the empty volume");
        export.push(run.from_export.expect("export to verified"));
        go.push(run.verified.expect("verified"));
        if let Ok(keep) = std::env::var("BENCH_KEEP_LOG") {
            let _ = std::fs::copy(dir.path().join("log"), format!("{keep}.{i}"));
        }
        drop_copies(&new, &id).await;
    }
    println!("fixed per-volume cost, migrate of an empty 1 GiB volume, median of 5:");
    let runs: Vec<String> = export.iter().map(|s| format!("{s:.2}")).collect();
    println!(
        "  export start → verified                {:6.2} s  (goal <= 1.2 s; runs {} s)",
        crate::common::median(export.clone()),
        runs.join(", ")
    );
    println!(
        "  command start → verified               {:6.2} s",
        crate::common::median(go)
    );
    c.delete_volume(&id).await.expect("delete");
}

/// A new source volume `bench-<name>-<pid>` of `size` GiB in the old cloud, once available.
pub async fn available_volume(c: &stackmigrate::openstack::Cinder<'_>, size: u64, name: &str) -> String {
    let v = c
        .create_volume(&stackmigrate::openstack::NewVolume {
            size,
            name: Some(format!("bench-{name}-{}", std::process::id())),
            ..Default::default()
        })
        .await
        .expect("create");
    c.wait_for_status(&v.id, &["available"], WAIT).await.expect("available");
    v.id
}

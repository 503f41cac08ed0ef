//! The binary against the testbed: `check`, `projects`, `volumes`, and no
//! secret in the log file even at trace level.

use crate::testbed::Testbed;
use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str], log: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(args)
        .arg("--log-file")
        .arg(log)
        .env("STACKMIGRATE_LOG", "trace")
        .output()
        .expect("run stackmigrate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_passes_on_the_testbed_and_secrets_stay_out_of_the_log() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("run.log");
    let creds = tb.credentials().display().to_string();
    let out = run(&["--config", &creds, "check"], &log);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "check failed:\n{stdout}\n{}", text(&out.stderr));
    for want in [
        "old cloud: Keystone",
        "new cloud: Keystone",
        "old cloud: compute endpoint",
        "old cloud: rbd ls volumes",
        "new cloud: rbd ls volumes",
        "export dir",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in\n{stdout}");
    }
    assert!(!stdout.contains('✘'), "{stdout}");

    let out = run(&["--config", &creds, "projects", "--json"], &log);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(
        &[
            "--config",
            &tb.admin_credentials().display().to_string(),
            "volumes",
            "--project",
            "research",
            "--json",
        ],
        &log,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let logged = std::fs::read_to_string(&log).expect("log written");
    assert!(logged.contains("authenticated"), "the log has content: {logged}");
    for secret in [
        tb.var("OPERATOR_PASSWORD"),
        tb.var("ADMIN_PASSWORD"),
        "gAAAAA".to_string(),
        "X-Auth-Token".to_string(),
    ] {
        assert!(!logged.contains(&secret), "{secret:?} leaked into the log");
    }
}

#[test]
fn check_names_each_problem_and_fails() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tb.credentials()).expect("read")).expect("json");
    cfg["new_cloud"]["ceph"]["conf"] = "/nonexistent/ceph.conf".into();
    cfg["old_cloud"]["auth"]["password"] = "wrong".into();
    let file = dir.path().join("broken.json");
    std::fs::write(&file, cfg.to_string()).expect("write");
    let out = run(
        &["--config", &file.display().to_string(), "check"],
        &dir.path().join("log"),
    );
    let stdout = text(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("✘ old cloud: authentication failed"), "{stdout}");
    assert!(stdout.contains("✘ new cloud: rbd ls"), "{stdout}");
    assert!(
        stdout.contains("✔ new cloud: Keystone"),
        "the rest is still checked: {stdout}"
    );
}

#[test]
fn projects_and_volumes_as_json() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("log");
    let out = run(
        &[
            "--config",
            &tb.admin_credentials().display().to_string(),
            "projects",
            "--json",
        ],
        &log,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let projects: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = projects
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"research") && names.contains(&"other"), "{names:?}");

    let out = run(
        &[
            "--config",
            &tb.credentials().display().to_string(),
            "volumes",
            "--project",
            &tb.var("OLD_RESEARCH_ID"),
            "--json",
        ],
        &log,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let vols: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(vols.is_array(), "{vols}");

    let out = run(
        &[
            "--config",
            &tb.credentials().display().to_string(),
            "volumes",
            "--project",
            "nope",
            "--json",
        ],
        &log,
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no project \"nope\""),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn insecure_tls_is_warned_about_once_per_cloud_on_the_terminal_and_in_the_log() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tb.credentials()).expect("read")).expect("json");
    cfg["old_cloud"]["insecure"] = true.into();
    cfg["new_cloud"]["insecure"] = true.into();
    let file = dir.path().join("insecure.json");
    std::fs::write(&file, cfg.to_string()).expect("write");
    let log = dir.path().join("log");
    let out = run(&["--config", &file.display().to_string(), "check"], &log);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{}\n{stderr}", text(&out.stdout));
    let logged = std::fs::read_to_string(&log).expect("log");
    for cloud in ["old", "new"] {
        let warning = format!("{cloud} cloud: insecure is set: TLS certificates of");
        assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
        assert_eq!(logged.matches(&warning).count(), 1, "{logged}");
    }
    let out = run(&["--config", &file.display().to_string(), "projects"], &log);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("old cloud: insecure") && !stderr.contains("new cloud"),
        "projects uses the old cloud only: {stderr}"
    );
}

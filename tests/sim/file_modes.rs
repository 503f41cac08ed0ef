//! What stackmigrate writes is for the operator only, whatever the umask:
//! directories 0700, files 0600 (exports, journal, inventory, reports, usage, log).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real binary under `umask 022` (umask is per process: set in a shell that execs it).
pub fn with_umask_022(args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(args)
        .output()
        .expect("run stackmigrate")
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).expect("meta").permissions().mode() & 0o777
}

/// Every file and directory under `dir`, `dir` included. Symlinks
/// (`usage/latest`) are skipped: they have no mode of their own, and what
/// they name is walked already.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    out.push(dir.to_path_buf());
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        } else if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn everything_written_is_private_under_umask_022() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("demo");
    let root_s = root.display().to_string();
    // A failing tape keeps the exports on disk, so their modes can be checked.
    let out = with_umask_022(&[
        "demo",
        "--headless",
        "--throttle",
        "0",
        "--faults",
        "tape-fail",
        "--work-dir",
        &root_s,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "tape failed: {stderr}");
    // All of it: the run's files, and the simulated clouds' (pools, state, locks).
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    for want in [
        "journal.jsonl",
        "inventory.json",
        "report.md",
        "report.json",
        "total.json",
        "monthly.csv",
        "stackmigrate.log",
        "new-cloud.json",
        "locks",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} written: {names:?}");
    }
    let exports = paths
        .iter()
        .filter(|p| p.starts_with(root.join("exports")) && p.is_file())
        .count();
    assert!(exports > 0, "exports kept for the failed tape: {paths:?}");
    let wrong: Vec<String> = paths
        .iter()
        .filter(|p| mode(p) != if p.is_dir() { 0o700 } else { 0o600 })
        .map(|p| format!("{} {:o}", p.display(), mode(p)))
        .collect();
    assert!(wrong.is_empty(), "not private: {wrong:#?}");
    assert!(
        !stderr.contains("can be read by group or others"),
        "fresh dirs: no warning: {stderr}"
    );
}

#[test]
fn an_existing_open_work_dir_is_warned_about_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("demo");
    std::fs::create_dir_all(root.join("work")).expect("mkdir");
    std::fs::set_permissions(root.join("work"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = with_umask_022(&[
        "demo",
        "--headless",
        "--throttle",
        "0",
        "--work-dir",
        &root.display().to_string(),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let warning = format!(
        "{} (mode 755) can be read by group or others",
        root.join("work").display()
    );
    assert_eq!(
        format!("{stdout}{stderr}").matches(&warning).count(),
        1,
        "one warning on the terminal: {stdout}\n{stderr}"
    );
    let log = std::fs::read_to_string(root.join("stackmigrate.log")).expect("log");
    assert!(log.contains(&warning), "and in the log: {log}");
    assert_eq!(mode(&root.join("work")), 0o755, "the operator's mode is left alone");
}

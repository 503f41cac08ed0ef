//! Where the log goes: the work dir, else the user's state dir, never a
//! predictable `/tmp/stackmigrate.log`; a symlink planted there is refused.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[test]
fn without_a_work_dir_the_log_goes_to_the_state_dir_not_tmp() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (shared_tmp, state) = (tmp.path().join("tmp"), tmp.path().join("state"));
    std::fs::create_dir_all(&shared_tmp).expect("mkdir");
    let out = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(["demo", "--headless", "--throttle", "0"])
        .env("TMPDIR", &shared_tmp)
        .env("XDG_STATE_HOME", &state)
        .output()
        .expect("run demo");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !shared_tmp.join("stackmigrate.log").exists(),
        "no log in the shared temporary directory"
    );
    let log = state.join("stackmigrate/stackmigrate.log");
    let text = std::fs::read_to_string(&log).expect("log in $XDG_STATE_HOME/stackmigrate");
    assert!(!text.is_empty());
    assert_eq!((mode(&log), mode(&state.join("stackmigrate"))), (0o600, 0o700));
}

#[test]
fn a_symlink_planted_at_the_log_path_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let root = tmp.path().join("demo");
    std::fs::create_dir_all(&root).expect("mkdir");
    let target = tmp.path().join("victim");
    std::os::unix::fs::symlink(&target, root.join("stackmigrate.log")).expect("symlink");
    let out = super::file_modes::with_umask_022(&[
        "demo",
        "--headless",
        "--throttle",
        "0",
        "--work-dir",
        &root.display().to_string(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !target.exists(),
        "the link was followed: {}",
        std::fs::read_to_string(&target).unwrap_or_default()
    );
    assert!(
        stderr.contains("stackmigrate.log") && stderr.contains("symbolic link"),
        "the operator is told: {stderr}"
    );
    assert!(root.join("stackmigrate.log").is_symlink(), "left as it was");
    assert_eq!(out.status.code(), Some(0), "the run itself goes on: {stderr}");
}

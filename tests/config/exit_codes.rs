//! The binary's exit codes that need no cloud: a usage error (a typo in a
//! command or flag) exits 64, apart from 2 ("some volumes need attention");
//! `--help` and `--version` exit 0, and `--help` lists every code.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("tmp");
    Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(args)
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .expect("run stackmigrate")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["migrat", "--project", "p"][..],
        &["migrate"][..],
        &["migrate", "--project", "p", "--strategy", "copy"][..],
        &["migrate", "--project", "p", "--no-such-flag"][..],
        &["usage"][..],
        &["usage", "--project", "p", "--start", "2026/10/01"][..],
        &["usage", "--project", "p", "--end", "yesterday"][..],
    ] {
        let out = run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{args:?}: clap's message is kept: {stderr}");
    }
}

#[test]
fn the_demo_refuses_no_export_file_and_says_why() {
    let out = run(&["demo", "--headless", "--no-export-file"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    assert!(
        stderr.contains("--no-export-file") && stderr.contains("warm-syncs"),
        "{stderr}"
    );
}

#[test]
fn help_and_version_exit_0_and_help_lists_every_exit_code() {
    for args in [&["--help"][..], &["migrate", "--help"][..]] {
        let out = run(args);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(stdout.contains("Exit codes:"), "{args:?}: {stdout}");
        for code in ["  0 ", "  1 ", "  2 ", " 64 ", "130 "] {
            assert!(stdout.contains(code), "{args:?}: no {code:?} in {stdout}");
        }
    }
    let out = run(&["--version"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("stackmigrate "), "{}", text(&out.stdout));
}

/// Cron, `ssh` without `-t`, a pipe: the dashboard says it needs a terminal
/// and what to run instead, with no panic and no backtrace.
#[test]
fn the_dashboard_without_a_terminal_says_so_and_exits_64() {
    for args in [&[][..], &["demo"][..], &["demo", "--json"][..]] {
        let out = run(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--headless"),
            "{args:?}: says what to run instead: {stderr}"
        );
    }
}

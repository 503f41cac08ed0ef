//! `stackmigrate config validate FILE`: 0 on the example, one precise line
//! (file:line:col: field: message) and a non-zero exit on each broken file.

use stackmigrate::config::{Config, ConfigError};
use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("credentials.example.json")).expect("example")
}

fn validate(path: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(["config", "validate"])
        .arg(path)
        .output()
        .expect("run stackmigrate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    p
}

/// The example as it is on a machine that has its CA bundle (in `dir`).
fn example_here(dir: &Path) -> String {
    let ca = write(dir, "old-cloud-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    example().replacen("/etc/ssl/certs/old-cloud-ca.pem", &ca.display().to_string(), 1)
}

#[test]
fn the_example_validates() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = write(dir.path(), "credentials.json", &example_here(dir.path()));
    let (code, stdout, stderr) = validate(&p);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(stderr.is_empty(), "no warning expected for mode 600: {stderr}");
    // Where its CA bundle is missing, the file that would fail to log in fails here.
    let p = write(dir.path(), "as-shipped.json", &example());
    let (code, _, stderr) = validate(&p);
    assert_ne!(code, 0);
    assert!(
        stderr.contains(":14:15: old_cloud.cacert: /etc/ssl/certs/old-cloud-ca.pem: no such file;"),
        "{stderr}"
    );
}

#[test]
fn each_broken_file_names_file_line_column_and_field() {
    let dir = tempfile::tempdir().expect("tmp");
    let ex = example();
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "bad-json.json",
            ex.replacen("\"insecure\": false,", "\"insecure\": false", 1),
            ":16:5: old_cloud:",
            "not valid JSON",
        ),
        (
            "missing.json",
            ex.replacen("\"username\": \"migration-operator\",", "", 1),
            ": old_cloud.auth.username:",
            "missing field",
        ),
        (
            "auth-wrong-type.json",
            ex.replacen("\"username\": \"migration-operator\"", "\"username\": 42", 1),
            ":6:19: old_cloud.auth.username:",
            "invalid type",
        ),
        (
            "auth-secret-not-a-string.json",
            ex.replacen("\"password\": \"s3cret-old\"", "\"password\": 1234", 1),
            ":7:19: old_cloud.auth.password:",
            "in quotes",
        ),
        (
            "wrong-type.json",
            ex.replacen("\"pool\": \"volumes\"", "\"pool\": 7", 1),
            ":20:15: old_cloud.ceph.pool:",
            "invalid type",
        ),
        (
            "unknown-key.json",
            ex.replacen("\"tapes\": 1,", "\"tapes\": 1, \"tape_drives\": 2,", 1),
            ": concurrency.tape_drives:",
            "unknown field",
        ),
        (
            "start-after-end.json",
            ex.replacen(
                "\"end\": \"2026-10-01T00:00:00\"",
                "\"end\": \"2019-01-01T00:00:00\"",
                1,
            ),
            ":47:12: usage.end:",
            "must be before end",
        ),
        (
            "zone-date.json",
            ex.replacen("2019-03-01T00:00:00", "2019-03-01T00:00:00Z", 1),
            ": usage.start:",
            "no zone suffix",
        ),
        (
            "empty-tape.json",
            ex.replacen("[\"dd\", \"if={file}\", \"of={drive}\", \"bs=1M\"]", "[]", 1),
            ": tape.command:",
            "tape command is empty",
        ),
        (
            "drive-without-drives.json",
            ex.replacen(",\n    \"drives\": [\"/dev/nst0\"]", "", 1),
            ": tape.command:",
            "has a {drive} argument and tape.drives lists no drive",
        ),
        (
            "drives-without-drive.json",
            ex.replacen("of={drive}", "of=/dev/nst0", 1),
            ": tape.drives:",
            "tape.command has no {drive} argument",
        ),
        (
            "no-drives.json",
            ex.replacen("[\"/dev/nst0\"]", "[]", 1),
            ": tape.drives:",
            "list from 1 to 64 drives",
        ),
        (
            "drive-twice.json",
            ex.replacen("[\"/dev/nst0\"]", "[\"/dev/nst0\", \"/dev/nst1\", \"/dev/nst0\"]", 1),
            ": tape.drives:",
            "lists a drive twice",
        ),
        (
            "no-export-file-file-tape.json",
            ex.replacen(
                "\"export_dir\": \"/srv/stackmigrate/exports\"",
                "\"export_dir\": null",
                1,
            ),
            ": tape.command:",
            "has a {file} argument, and this run keeps no export file",
        ),
        (
            "missing-export-dir.json",
            ex.replacen("\"export_dir\": \"/srv/stackmigrate/exports\",", "", 1),
            "export_dir",
            "missing field",
        ),
        (
            "zero-concurrency.json",
            ex.replacen("\"exports\": 2", "\"exports\": 0", 1),
            ": concurrency.exports:",
            "out of range",
        ),
        (
            "zero-stall.json",
            ex.replacen("\"stall_seconds\": 60", "\"stall_seconds\": 0", 1),
            ": stall_seconds:",
            "out of range",
        ),
        (
            "bad-url.json",
            ex.replacen("https://keystone.old.example.org:5000/v3", "keystone-old", 1),
            ": old_cloud.auth_url:",
            "not an http(s) URL",
        ),
        (
            "url-credentials.json",
            ex.replacen("https://keystone.old", "https://admin:URLSECRET@keystone.old", 1),
            ": old_cloud.auth_url:",
            "holds a user name or password",
        ),
        (
            "keystone-v2.json",
            ex.replacen(
                "keystone.old.example.org:5000/v3",
                "keystone.old.example.org:5000/v2.0",
                1,
            ),
            ": old_cloud.auth_url:",
            "names Keystone v2.0, which is gone; use the v3 URL (https://keystone.old.example.org:5000/v3)",
        ),
        (
            "empty-password.json",
            ex.replacen("\"password\": \"s3cret-old\"", "\"password\": \"\"", 1),
            ":7:19: old_cloud.auth.password:",
            "is empty",
        ),
        (
            "ceph-and-files.json",
            ex.replacen(
                "\"ceph\": {",
                "\"files\": {\"dir\": \"/srv/volumes\"},\n    \"ceph\": {",
                1,
            ),
            ": old_cloud.files:",
            "is set beside ceph",
        ),
        (
            "tape-one-line.json",
            ex.replacen(
                "[\"dd\", \"if={file}\", \"of={drive}\", \"bs=1M\"]",
                "[\"dd if={file} of={drive} bs=1M\"]",
                1,
            ),
            ": tape.command:",
            "is one argument holding a whole command line, and it runs without a shell",
        ),
        (
            "truncated.json",
            ex[..ex.len() / 2].to_string(),
            "truncated.json:",
            "not valid JSON",
        ),
        (
            "empty.json",
            String::new(),
            "empty.json:1:1: (top level):",
            "the file is empty",
        ),
        (
            "blank.json",
            "\n  \n".into(),
            "blank.json:1:1: (top level):",
            "the file is empty",
        ),
        (
            "array.json",
            "[1]".into(),
            "array.json:1:1: (top level):",
            "the top level must be an object",
        ),
        (
            "wrapped.json",
            format!("\n  [{ex}]"),
            "wrapped.json:2:3: (top level):",
            "the top level must be an object ({…}), not an array",
        ),
    ];
    for (name, text, position_and_field, message) in cases {
        let p = write(dir.path(), name, &text);
        let (code, _, stderr) = validate(&p);
        assert_ne!(code, 0, "{name} must fail");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: exactly one line, got {stderr:?}");
        assert!(
            lines[0].starts_with(&p.display().to_string()),
            "{name}: names the file: {stderr}"
        );
        assert!(
            lines[0].contains(position_and_field),
            "{name}: want {position_and_field:?} in {stderr}"
        );
        assert!(lines[0].contains(message), "{name}: want {message:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!stderr.contains("URLSECRET"), "{name}: a secret shown: {stderr}");
    }
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let (code, _, stderr) = validate(Path::new("/nonexistent/credentials.json"));
    assert_ne!(code, 0);
    assert!(
        stderr.contains("/nonexistent/credentials.json: cannot read"),
        "{stderr}"
    );
}

#[test]
fn group_readable_file_warns_but_validates() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let p = write(dir.path(), "credentials.json", &example_here(dir.path()));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, _, stderr) = validate(&p);
    assert_eq!(code, 0);
    assert!(
        stderr.contains("readable by group or others") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

/// Every prefix of the example is an error (with a 1-based position), never a panic.
#[test]
fn no_prefix_of_the_example_panics() {
    let ex = example();
    let file = Path::new("credentials.json");
    let complete = ex.trim_end().len();
    for (i, _) in ex.char_indices().take_while(|(i, _)| *i < complete) {
        let r = std::panic::catch_unwind(|| Config::from_json_str(&ex[..i], file));
        assert!(r.is_ok(), "panicked on a prefix of {i} bytes");
        let err = r.expect("no panic").expect_err("a prefix is not a config");
        match err {
            ConfigError::Invalid {
                position: Some((line, column)),
                ..
            } => assert!(line >= 1 && column >= 1, "prefix of {i} bytes: 1-based position"),
            other => panic!("prefix of {i} bytes: no position: {other}"),
        }
    }
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let cfg = Config::from_json_str(&example(), Path::new("credentials.json")).expect("example parses");
    let dump = format!("{cfg:?}");
    assert!(!dump.contains("s3cret-old") && !dump.contains("s3cret-new"), "{dump}");
    let json = serde_json::to_string(&cfg).expect("serialize");
    assert!(!json.contains("s3cret"), "{json}");
}

/// A `stall_seconds` allowed but short enough to fail a healthy round is
/// named in a warning; the default is not.
#[test]
fn a_short_stall_limit_is_warned_about() {
    let ex = example();
    let cfg = Config::from_json_str(&ex, Path::new("credentials.json")).expect("example parses");
    assert_eq!(cfg.stall_warning(), None);
    let short = ex.replacen("\"stall_seconds\": 60", "\"stall_seconds\": 10", 1);
    let cfg = Config::from_json_str(&short, Path::new("credentials.json")).expect("10 s is allowed");
    let said = cfg.stall_warning().expect("a warning");
    assert!(
        said.contains("stall_seconds is 10") && said.contains("below 45 s"),
        "{said}"
    );
}

/// More than one tape job at once runs the same command: the operator is
/// told they share its device unless the command picks a drive.
#[test]
fn several_tape_jobs_at_once_are_warned_about() {
    let ex = example();
    let cfg = Config::from_json_str(&ex, Path::new("credentials.json")).expect("example parses");
    assert_eq!(cfg.tape_warning(), None, "one drive listed");
    assert_eq!(cfg.tape_jobs(), 1);
    let two = ex.replacen("\"tapes\": 1", "\"tapes\": 2", 1);
    let cfg = Config::from_json_str(&two, Path::new("credentials.json")).expect("2 is allowed");
    assert_eq!(cfg.tape_jobs(), 1, "one job per listed drive");
    let said = cfg.tape_warning().expect("tapes not used");
    assert!(said.contains("concurrency.tapes (2) is not used"), "{said}");
    let plain = two
        .replacen("of={drive}", "of=/dev/nst0", 1)
        .replacen(",\n    \"drives\": [\"/dev/nst0\"]", "", 1);
    let cfg = Config::from_json_str(&plain, Path::new("credentials.json")).expect("no drives");
    assert_eq!(cfg.tape_jobs(), 2);
    let said = cfg.tape_warning().expect("a warning");
    assert!(
        said.contains("concurrency.tapes is 2") && said.contains("of=/dev/nst0"),
        "{said}"
    );
}

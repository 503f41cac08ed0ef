//! The tape copy: a configurable argv template run next to the import. With a
//! `{file}` argument the command reads the export itself (progress from its
//! file offset in /proc); without one, the export is fed on its stdin.

use super::child_process::{ChildExit, ChildProcess};
use super::rbd_store::Counter;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    /// `code` is `None` when a signal ended the command.
    #[error("tape command {argv:?} {}", failure(*.code, .stderr))]
    Failed {
        argv: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("tape command {argv:?}: cannot wait for it: {message}")]
    Wait { argv: String, message: String },
    #[error("tape command {argv:?} cannot start: {message}; check tape.command in the config")]
    Spawn { argv: String, message: String },
    #[error("tape copy cancelled")]
    Cancelled,
}

/// "exited with status 1: drive offline", or with "(no error output)" rather
/// than an empty tail after a colon.
fn failure(code: Option<i32>, stderr: &str) -> String {
    let how = match code {
        Some(c) => format!("exited with status {c}"),
        None => "was killed by a signal".to_string(),
    };
    match stderr.trim() {
        "" => format!("{how} (no error output); check the drive and tape.command"),
        text => format!("{how}: {text}"),
    }
}

/// The argv with `{file}` replaced, and whether the file goes on stdin.
pub fn tape_argv(template: &[String], file: &Path) -> (Vec<String>, bool) {
    let path = file.display().to_string();
    let uses_file = template.iter().any(|a| a.contains("{file}"));
    let argv = template.iter().map(|a| a.replace("{file}", &path)).collect();
    (argv, !uses_file)
}

/// Runs the tape command on `file`, counting bytes into `counter`.
pub async fn run_tape(
    template: &[String],
    file: &Path,
    counter: Counter,
    cancel: &CancellationToken,
) -> Result<(), TapeError> {
    let (argv, stdin) = tape_argv(template, file);
    let shown = argv.join(" ");
    let spawn_error = |e: std::io::Error| TapeError::Spawn {
        argv: shown.clone(),
        message: e.to_string(),
    };
    // Fed on stdin: a read end of its input is kept, to count what it left unread.
    let (child, mut input, watch) = match stdin {
        true => ChildProcess::spawn_fed(&argv).map(|(c, i, w)| (c, Some(i), Some(w))),
        false => ChildProcess::spawn(&argv, false, false).map(|c| (c, None, None)),
    }
    .map_err(spawn_error)?;
    let feeder = if stdin {
        let src = file.to_path_buf();
        let counter = counter.clone();
        Some(tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let Some(mut input) = input.take() else {
                return Ok(());
            };
            let mut f = std::fs::File::open(src)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                input.write_all(&buf[..n])?;
                counter.fetch_add(n as u64, Ordering::Relaxed);
            }
        }))
    } else {
        None
    };
    let watcher = (!stdin).then(|| {
        let target = file.to_path_buf();
        let counter = counter.clone();
        let pid = child.pid();
        tokio::spawn(async move {
            loop {
                if let Some(pos) = pid.and_then(|p| file_offset(p, &target)) {
                    counter.fetch_max(pos, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    });
    let exit = child.wait(cancel).await;
    if let Some(w) = watcher {
        w.abort();
    }
    // Counted before the kept read end goes: then a feeder still writing meets EPIPE.
    let left = watch.as_ref().map(super::child_process::unread);
    drop(watch);
    let fed = match feeder {
        Some(f) => f.await.ok(),
        None => None,
    };
    match exit {
        Ok(ChildExit::Cancelled { .. }) => Err(TapeError::Cancelled),
        Ok(ChildExit::Exited { code: Some(0), .. }) => {
            if let Some(Err(e)) = fed {
                return Err(TapeError::Failed {
                    argv: shown,
                    code: Some(0),
                    stderr: format!("feeding the export failed: {e}"),
                });
            }
            // Exit 0 is not enough: every byte fed must have been read.
            if let Some(Ok(n @ 1..)) = left {
                return Err(TapeError::Failed {
                    argv: shown,
                    code: Some(0),
                    stderr: format!(
                        "it ended with {n} bytes of the export unread on its input: it did not take the whole volume"
                    ),
                });
            }
            if !stdin {
                if let Ok(m) = std::fs::metadata(file) {
                    counter.store(m.len(), Ordering::Relaxed);
                }
            }
            Ok(())
        }
        Ok(ChildExit::Exited { code, stderr }) => Err(TapeError::Failed {
            argv: shown,
            code,
            stderr,
        }),
        Err(e) => Err(TapeError::Wait {
            argv: shown,
            message: e.to_string(),
        }),
    }
}

/// The read offset of `pid` (or its children in the same group are not
/// searched) in `target`, from /proc/<pid>/fdinfo.
fn file_offset(pid: u32, target: &Path) -> Option<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    for entry in dir.flatten() {
        if std::fs::read_link(entry.path()).ok().as_deref() == Some(target) {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", entry.file_name().to_string_lossy())).ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|p| p.trim().parse().ok());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_placeholder_or_stdin() {
        let t = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (argv, stdin) = tape_argv(&t(&["tar", "-cf", "/dev/nst0", "{file}"]), Path::new("/x/v.raw"));
        assert_eq!((argv, stdin), (t(&["tar", "-cf", "/dev/nst0", "/x/v.raw"]), false));
        let (argv, stdin) = tape_argv(&t(&["dd", "of=/dev/nst0", "bs=1M"]), Path::new("/x/v.raw"));
        assert_eq!((argv, stdin), (t(&["dd", "of=/dev/nst0", "bs=1M"]), true));
        let (argv, _) = tape_argv(&t(&["dd", "if={file}", "of=/dev/nst0"]), Path::new("/x/v.raw"));
        assert_eq!(argv[1], "if=/x/v.raw");
    }

    #[tokio::test]
    async fn stdin_and_file_modes_copy_and_count() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().join("v.raw");
        std::fs::write(&src, vec![5u8; 3 << 20]).expect("write");
        let out = dir.path().join("tape1");
        let c: Counter = Default::default();
        let argv = vec![
            "dd".into(),
            format!("of={}", out.display()),
            "bs=1M".into(),
            "status=none".into(),
        ];
        run_tape(&argv, &src, c.clone(), &CancellationToken::new())
            .await
            .expect("dd via stdin");
        assert_eq!(std::fs::read(&out).expect("read"), std::fs::read(&src).expect("read"));
        assert_eq!(c.load(Ordering::Relaxed), 3 << 20);
        let c: Counter = Default::default();
        let out2 = dir.path().join("tape2");
        let argv = vec!["cp".into(), "{file}".into(), out2.display().to_string()];
        run_tape(&argv, &src, c.clone(), &CancellationToken::new())
            .await
            .expect("cp");
        assert_eq!(c.load(Ordering::Relaxed), 3 << 20);
    }

    #[tokio::test]
    async fn a_failing_command_keeps_its_stderr() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().join("v.raw");
        std::fs::write(&src, b"x").expect("write");
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "echo 'drive offline' >&2; exit 2".into(),
            "{file}".into(),
        ];
        let e = run_tape(&argv, &src, Default::default(), &CancellationToken::new())
            .await
            .expect_err("fails");
        assert!(
            matches!(e, TapeError::Failed { code: Some(2), ref stderr, .. } if stderr == "drive offline"),
            "{e}"
        );
    }

    async fn failure_text(script: &str) -> String {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().join("v.raw");
        std::fs::write(&src, b"x").expect("write");
        let argv = vec!["sh".into(), "-c".into(), script.into(), "{file}".into()];
        run_tape(&argv, &src, Default::default(), &CancellationToken::new())
            .await
            .expect_err("fails")
            .to_string()
    }

    #[tokio::test]
    async fn a_silent_failure_reads_as_an_exit_status() {
        let text = failure_text("exit 1").await;
        assert!(text.contains("exited with status 1 (no error output)"), "{text}");
        assert!(!text.contains("Some(") && !text.trim_end().ends_with(':'), "{text}");
        let text = failure_text("echo 'drive offline' >&2; exit 2").await;
        assert!(text.ends_with("exited with status 2: drive offline"), "{text}");
    }

    #[tokio::test]
    async fn a_killed_command_says_so() {
        let text = failure_text("kill -9 $$").await;
        assert!(text.contains("was killed by a signal"), "{text}");
        assert!(!text.contains("None"), "{text}");
    }

    /// Fed on stdin, a command that exits 0 having read only part of the
    /// export (`head -c`, a `dd count=`) is a failed tape copy: what it left
    /// in its input, or a feeder that met a closed pipe, says so.
    #[tokio::test]
    async fn a_command_that_exits_0_without_reading_everything_has_failed() {
        let dir = tempfile::tempdir().expect("tmp");
        let src = dir.path().join("v.raw");
        for (size, script) in [
            (48 << 10, "head -c 4096 > /dev/null"),
            (3 << 20, "head -c 4096 > /dev/null"),
            (3 << 20, "exit 0"),
        ] {
            std::fs::write(&src, vec![5u8; size]).expect("write");
            let argv = vec!["sh".into(), "-c".into(), script.into()];
            let r = run_tape(&argv, &src, Default::default(), &CancellationToken::new()).await;
            let e = r.expect_err(&format!("{size} bytes, {script}: counted as a copy"));
            assert!(matches!(e, TapeError::Failed { code: Some(0), .. }), "{e}");
        }
        let argv = vec!["sh".into(), "-c".into(), "cat > /dev/null".into()];
        run_tape(&argv, &src, Default::default(), &CancellationToken::new())
            .await
            .expect("a command that reads it all");
    }
}

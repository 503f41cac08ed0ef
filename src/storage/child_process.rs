//! A child process of the data path (`rbd`, the tape command): spawned from an
//! argv (never a shell) in its own process group, its stderr kept as a
//! bounded tail, and cancellable: SIGTERM to the group, a grace period, then
//! SIGKILL. `kill_on_drop` is the backstop if the future is dropped.

use rustix::process::{kill_process_group, Pid, Signal};
use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Lines of stderr kept per child, for the error message and the log pane.
const STDERR_LINES: usize = 20;
pub const GRACE: Duration = Duration::from_secs(5);

/// How a child ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildExit {
    /// Exit code (`None` when killed by a signal) and the stderr tail.
    Exited { code: Option<i32>, stderr: String },
    /// Stopped because the cancellation token fired.
    Cancelled { stderr: String },
}

impl ChildExit {
    pub fn success(&self) -> bool {
        matches!(self, ChildExit::Exited { code: Some(0), .. })
    }

    /// The last line a child that failed wrote to stderr: why it failed, where
    /// the caller only saw its pipe break.
    pub fn last_words(&self) -> Option<&str> {
        let (ChildExit::Exited { stderr, .. } | ChildExit::Cancelled { stderr }) = self;
        let said = stderr.lines().rev().find(|l| !l.trim().is_empty());
        said.filter(|_| !self.success()).map(str::trim)
    }
}

/// Process groups of the children alive in this process: what
/// [`kill_all_groups`] stops before a second signal leaves at once.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

fn live_groups() -> std::sync::MutexGuard<'static, Vec<i32>> {
    LIVE_GROUPS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// SIGKILLs the process group of every child still alive: for a process
/// about to leave without its destructors (`std::process::exit` on a second
/// signal), so that no `rbd` or tape command outlives it. Each child runs in
/// its own group, so the terminal's signal never reached them.
pub fn kill_all_groups() {
    for pgid in live_groups().drain(..) {
        if let Some(pgid) = Pid::from_raw(pgid) {
            let _ = kill_process_group(pgid, Signal::KILL);
        }
    }
}

pub struct ChildProcess {
    child: Child,
    pgid: Option<Pid>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    stderr_task: Option<JoinHandle<()>>,
    pub label: String,
}

/// Runs `work` with a token cancelled once `limit` has passed (the token a
/// child's [`ChildProcess::wait`] is given, so it is stopped as any cancel
/// stops it); returns what `work` gave and whether the limit passed.
pub async fn within<T>(limit: Duration, work: impl AsyncFnOnce(&CancellationToken) -> T) -> (T, bool) {
    let expired = CancellationToken::new();
    let run = work(&expired);
    tokio::pin!(run);
    tokio::select! {
        out = &mut run => (out, false),
        () = tokio::time::sleep(limit) => {
            expired.cancel();
            (run.await, true)
        }
    }
}

/// Bytes waiting in a pipe, read through a read end of it ([`ChildProcess::spawn_fed`]).
pub fn unread(watch: &std::os::fd::OwnedFd) -> std::io::Result<u64> {
    Ok(rustix::io::ioctl_fionread(watch)?)
}

/// A data-path pipe's capacity. Linux's default, 64 KiB, makes `rbd` and
/// its reader switch places for every 64 KiB: measured on the testbed, a
/// 1.3 GiB `rbd export-diff` read through the pipe took 4.2 s with the
/// default and 1.8 s with 1 MiB (`docs/BENCHMARKS.md`).
const PIPE_BYTES: usize = 1 << 20;

/// The pipe as a blocking file, enlarged to [`PIPE_BYTES`] where the kernel
/// allows (an unprivileged user may be held to less; the pipe then works as before).
fn big_pipe(fd: std::os::fd::OwnedFd) -> std::fs::File {
    if let Err(e) = rustix::pipe::fcntl_setpipe_size(&fd, PIPE_BYTES) {
        tracing::debug!("pipe size stays at the default: {e}");
    }
    std::fs::File::from(fd)
}

impl ChildProcess {
    /// Spawns `argv` with piped stdin/stdout as asked; stderr is always captured.
    pub fn spawn(argv: &[String], stdin: bool, stdout: bool) -> std::io::Result<Self> {
        let input = if stdin { Stdio::piped() } else { Stdio::null() };
        Self::spawn_with(argv, input, stdout)
    }

    /// Spawns `argv` reading a pipe made here, of which a read end is kept
    /// (`watch`): once the command has ended, [`unread`] counts what it left
    /// in its input. Returns the child, the pipe's write end and `watch`.
    /// Drop `watch` once counted: while it is open, a writer never meets EPIPE.
    pub fn spawn_fed(argv: &[String]) -> std::io::Result<(Self, std::fs::File, std::os::fd::OwnedFd)> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
        let watch = read.try_clone()?;
        let child = Self::spawn_with(argv, Stdio::from(read), false)?;
        Ok((child, big_pipe(write), watch))
    }

    fn spawn_with(argv: &[String], stdin: Stdio, stdout: bool) -> std::io::Result<Self> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty argv"))?;
        let pipe = |p: bool| if p { Stdio::piped() } else { Stdio::null() };
        let mut child = Command::new(program)
            .args(args)
            .stdin(stdin)
            .stdout(pipe(stdout))
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let pgid = child.id().and_then(|id| Pid::from_raw(id as i32));
        if let Some(pgid) = pgid {
            live_groups().push(pgid.as_raw_nonzero().get());
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let stderr_task = child.stderr.take().map(|mut err| {
            let tail = stderr.clone();
            let label = program.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut pending = String::new();
                while let Ok(n) = err.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                    // rbd separates progress updates with '\r'.
                    while let Some(i) = pending.find(['\n', '\r']) {
                        let line: String = pending.drain(..=i).collect();
                        push_line(&tail, &label, line.trim());
                    }
                }
                push_line(&tail, &label, pending.trim());
            })
        });
        Ok(Self {
            child,
            pgid,
            stderr,
            stderr_task,
            label: argv.join(" "),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The child's stdout as a blocking file, for a reader thread.
    pub fn take_stdout(&mut self) -> Option<std::fs::File> {
        let out = self.child.stdout.take()?;
        out.into_owned_fd().ok().map(big_pipe)
    }

    /// The child's stdin as a blocking file, for a writer thread.
    pub fn take_stdin(&mut self) -> Option<std::fs::File> {
        let input = self.child.stdin.take()?;
        input.into_owned_fd().ok().map(big_pipe)
    }

    fn tail(&self) -> String {
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (already gone) is fine.
            let _ = kill_process_group(pgid, sig);
        }
    }

    /// Waits for the child, or stops its whole group when `cancel` fires.
    pub async fn wait(mut self, cancel: &CancellationToken) -> std::io::Result<ChildExit> {
        let status = tokio::select! {
            status = self.child.wait() => Some(status?),
            // Why the group: rbd may fork helpers; the tape command may be a pipeline.
            _ = cancel.cancelled() => None,
        };
        let Some(status) = status else {
            self.signal(Signal::TERM);
            let termed = std::time::Instant::now();
            let exited = tokio::time::timeout(GRACE, self.child.wait()).await.is_ok();
            // The leader may end on TERM while a member that ignores it (a
            // pipeline's stage) lives on: the group has the rest of the grace.
            if !exited || !self.group_ends(termed).await {
                tracing::warn!(child = %self.label, "no exit {} s after SIGTERM; sending SIGKILL", GRACE.as_secs());
                self.signal(Signal::KILL);
                if !exited {
                    let _ = self.child.wait().await;
                }
                // Its members gone too before a slot (a tape drive) is freed;
                // one stuck in the kernel is given up on after a while.
                self.group_ends(std::time::Instant::now()).await;
            }
            self.join_stderr().await;
            return Ok(ChildExit::Cancelled { stderr: self.tail() });
        };
        self.join_stderr().await;
        Ok(ChildExit::Exited {
            code: status.code(),
            stderr: self.tail(),
        })
    }

    /// Whether every process of the group has gone within [`GRACE`] of `since`.
    async fn group_ends(&self, since: std::time::Instant) -> bool {
        while self.pgid.is_some_and(group_lives) {
            if since.elapsed() >= GRACE {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    async fn join_stderr(&mut self) {
        if let Some(t) = self.stderr_task.take() {
            // A grandchild may keep stderr open; don't wait forever for it.
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

impl Drop for ChildProcess {
    /// Dropped unwaited (its task dropped, the runtime shut down): the whole
    /// group goes, not only the leader that `kill_on_drop` kills.
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid {
            let raw = pgid.as_raw_nonzero().get();
            live_groups().retain(|g| *g != raw);
            if matches!(self.child.try_wait(), Ok(None)) {
                let _ = kill_process_group(pgid, Signal::KILL);
            }
        }
    }
}

/// Whether a process of group `pgid` still runs (zombies, which only wait
/// to be reaped, do not count): `/proc/<pid>/stat`'s state and group.
fn group_lives(pgid: Pid) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // After the command's `)`: state, ppid, pgrp.
        let mut f = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace();
        let (state, _, pgrp) = (f.next(), f.next(), f.next());
        state.is_some_and(|s| s != "Z" && s != "X")
            && pgrp.and_then(|g| g.parse().ok()) == Some(pgid.as_raw_nonzero().get())
    })
}

fn push_line(tail: &Mutex<VecDeque<String>>, label: &str, line: &str) {
    if line.is_empty() || line.contains("% complete") {
        return;
    }
    tracing::debug!(child = label, "{line}");
    if let Ok(mut t) = tail.lock() {
        if t.len() == STDERR_LINES {
            t.pop_front();
        }
        t.push_back(line.to_string());
    }
}

#[cfg(test)]
#[path = "child_process_tests.rs"]
mod tests;

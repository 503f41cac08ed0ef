//! A writer's pipe to a child that writes into the new cluster (`rbd
//! import-diff -`, the round's read-back writer), under the stall rule the
//! stage's forward keeps (`pipe_forward.rs`): no room in the pipe for the
//! stall limit means the new cluster took no data, and the write fails. The
//! pipe is made non-blocking, so the rule holds inside a long write too, not
//! only before it starts: each byte of room that comes resets the wait.

use super::pipe_forward::wait_room;
use super::DataPathError;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct StallWriter {
    pipe: File,
    stall: Duration,
    cancel: CancellationToken,
    /// A wait that failed (the stall, a cancel) fails every later write at
    /// once: a `BufWriter` flushes again when dropped, and that second wait
    /// would hold the round (and the source's lock) for another limit.
    failed: Option<(io::ErrorKind, String)>,
}

impl StallWriter {
    /// `pipe`: the writing end of a child's stdin, set non-blocking here.
    /// A wait for room gives up on `cancel`.
    pub fn new(pipe: File, stall: Duration, cancel: &CancellationToken) -> io::Result<Self> {
        use rustix::fs::{fcntl_getfl, fcntl_setfl, OFlags};
        let flags = fcntl_getfl(&pipe)?;
        fcntl_setfl(&pipe, flags | OFlags::NONBLOCK)?;
        Ok(Self {
            pipe,
            stall,
            cancel: cancel.clone(),
            failed: None,
        })
    }
}

impl Write for StallWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some((kind, why)) = &self.failed {
            return Err(io::Error::new(*kind, why.clone()));
        }
        loop {
            match self.pipe.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if let Err(e) = wait_room(self.pipe.as_fd(), self.stall, &self.cancel) {
                        // Not `Interrupted` for a cancel: `write_all` retries that.
                        let e = match e.kind() {
                            io::ErrorKind::Interrupted => io::Error::other("cancelled"),
                            _ => e,
                        };
                        self.failed = Some((e.kind(), e.to_string()));
                        return Err(e);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The error of a round whose writer was stopped because its read failed.
/// A read that failed only at its broken pipe says nothing of why: the
/// writer's last words (`said`) do, if it left any.
pub(super) fn writer_stopped<T>(read: Result<T, DataPathError>, said: Option<&str>) -> DataPathError {
    match (read, said) {
        (Err(e), Some(said)) if broken_pipe(&e) => {
            DataPathError::Child(format!("{e}; the new image's writer said: {said}"))
        }
        (Err(e), _) => e,
        (Ok(_), said) => DataPathError::Child(format!(
            "the new image's writer was stopped{}",
            said.map(|s| format!("; it said: {s}")).unwrap_or_default()
        )),
    }
}

/// A read that failed only because the writer's pipe broke: the writer's
/// own error says why.
pub(super) fn broken_pipe(e: &DataPathError) -> bool {
    match e {
        DataPathError::Rbd(super::RbdError::BrokenPipe { .. }) => true,
        DataPathError::Diff {
            source: super::rbd_diff::DiffError::Io(io),
            ..
        } => io.kind() == io::ErrorKind::BrokenPipe,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader reads nothing: the write fails after the stall
    /// limit, however large, and every later write (a `BufWriter`'s flush
    /// on drop) fails at once instead of waiting for the limit again.
    #[test]
    fn a_pipe_that_takes_nothing_fails_the_write_after_the_stall_limit_once() {
        let (_rx, tx) = rustix::pipe::pipe().expect("pipe");
        let stall = Duration::from_millis(400);
        let mut w = StallWriter::new(File::from(tx), stall, &CancellationToken::new()).expect("w");
        let big = vec![7u8; 4 << 20];
        let start = std::time::Instant::now();
        let e = w.write_all(&big).expect_err("nobody reads");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("took no data"), "{e}");
        assert!(start.elapsed() >= stall);
        let again = std::time::Instant::now();
        let e = w.write_all(&big).expect_err("still nobody reads");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(again.elapsed() < stall, "waited again: {:?}", again.elapsed());
    }

    /// A reader that drains: a write far larger than the pipe goes through.
    #[test]
    fn a_reader_that_drains_lets_a_large_write_through() {
        let (rx, tx) = rustix::pipe::pipe().expect("pipe");
        let mut w = StallWriter::new(File::from(tx), Duration::from_millis(400), &CancellationToken::new()).expect("w");
        let big = vec![7u8; 4 << 20];
        let reader = std::thread::spawn(move || {
            let mut rx = File::from(rx);
            let mut n = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match std::io::Read::read(&mut rx, &mut buf) {
                    Ok(0) | Err(_) => return n,
                    Ok(k) => n += k as u64,
                }
            }
        });
        w.write_all(&big).expect("a reader drains it");
        drop(w);
        assert_eq!(reader.join().expect("reader"), big.len() as u64);
    }

    #[test]
    fn a_cancel_ends_the_wait() {
        let (_rx, tx) = rustix::pipe::pipe().expect("pipe");
        let cancel = CancellationToken::new();
        let mut w = StallWriter::new(File::from(tx), Duration::from_secs(60), &cancel).expect("w");
        let c = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            c.cancel();
        });
        let e = w.write_all(&vec![1u8; 4 << 20]).expect_err("cancelled");
        assert_eq!(e.to_string(), "cancelled");
    }

    /// A read that broke only at the writer's pipe takes the writer's last
    /// words; a stall keeps its own message.
    #[test]
    fn a_stopped_writer_s_own_words_name_a_broken_pipe() {
        let pipe = || -> Result<(), DataPathError> {
            Err(crate::storage::RbdError::BrokenPipe {
                op: "delta reader".into(),
                stderr: String::new(),
            }
            .into())
        };
        let e = writer_stopped(pipe(), Some("rbd: error writing: (122) Disk quota exceeded")).to_string();
        assert!(e.contains("broken pipe") && e.contains("Disk quota exceeded"), "{e}");
        let stall = || -> Result<(), DataPathError> {
            Err(DataPathError::io(
                std::path::Path::new("volume-x"),
                io::Error::new(io::ErrorKind::TimedOut, "the new cluster took no data for 3 s"),
            ))
        };
        let e = writer_stopped(stall(), Some("Terminated")).to_string();
        assert!(e.contains("took no data") && !e.contains("Terminated"), "{e}");
        assert_eq!(
            writer_stopped(pipe(), None).to_string(),
            pipe().expect_err("a broken pipe").to_string()
        );
    }
}

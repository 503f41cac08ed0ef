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
        })
    }
}

impl Write for StallWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            match self.pipe.write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Not `Interrupted` for a cancel: `write_all` retries that.
                    wait_room(self.pipe.as_fd(), self.stall, &self.cancel).map_err(|e| match e.kind() {
                        io::ErrorKind::Interrupted => io::Error::other("cancelled"),
                        _ => e,
                    })?
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
pub(super) fn writer_stopped<T>(read: Result<T, DataPathError>) -> DataPathError {
    match read {
        Err(e) => e,
        Ok(_) => DataPathError::Child("the new image's writer was stopped".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader reads nothing: the write fails after the stall
    /// limit, however large, and a reader that reads lets it through.
    #[test]
    fn a_pipe_that_takes_nothing_fails_the_write_after_the_stall_limit() {
        let (rx, tx) = rustix::pipe::pipe().expect("pipe");
        let mut w = StallWriter::new(File::from(tx), Duration::from_millis(400), &CancellationToken::new()).expect("w");
        let big = vec![7u8; 4 << 20];
        let start = std::time::Instant::now();
        let e = w.write_all(&big).expect_err("nobody reads");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        assert!(e.to_string().contains("took no data"), "{e}");
        assert!(start.elapsed() >= Duration::from_millis(400));
        // A reader that drains: the same amount goes through.
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
        assert!(reader.join().expect("reader") >= big.len() as u64);
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
}

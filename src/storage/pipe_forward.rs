//! The stage fed by the kernel: each data record's bytes are duplicated
//! from `rbd export-diff`'s stdout pipe into the stage writer's stdin pipe
//! (`rbd import-diff -`, or the writer that reads back by checksums) with
//! tee(2), then read once by stackmigrate for the checksum and the export
//! file. The stage's copy never passes through this process: no queue, no
//! second thread, no write of every byte into a second pipe.
//!
//! The record headers are stackmigrate's own (written here), so the stage gets
//! only what a fresh image needs: no snapshot records, no zero records, and
//! the end record only when the sink's `end` says so (after the lock check of
//! a detached source, say). Zero pieces inside data records reach the writer,
//! which leaves them out of the image itself (`import-diff`'s 4 KiB
//! `--sparse-size`; the read-back writer's 64 KiB pieces, as the record trail
//! expects). A forward that fails (the writer died, or took nothing for the
//! stall limit) is dropped by the sink: with an export file the export goes
//! on without its stage, as before; with none, the export fails.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The writing end of the stage's writer, fed by tee(2) from the
/// export's own pipe (see [`super::rbd_diff::read_diff_piped`]).
pub struct PipeForward {
    stdin: File,
    /// No room in the stage's pipe for this long: the new cluster took no data.
    stall: Duration,
    /// Data bytes forwarded so far.
    forwarded: u64,
    /// The export's cancel: a wait for room gives up on it (the source may
    /// be held under its lock meanwhile).
    cancel: CancellationToken,
}

impl PipeForward {
    /// `stdin` already holds the stream's header and size record.
    pub fn new(stdin: File, stall: Duration) -> Self {
        Self {
            stdin,
            stall,
            forwarded: 0,
            cancel: CancellationToken::new(),
        }
    }

    /// Gives up any wait for room once `cancel` is cancelled.
    pub fn until(mut self, cancel: &CancellationToken) -> Self {
        self.cancel = cancel.clone();
        self
    }

    pub fn forwarded(&self) -> u64 {
        self.forwarded
    }

    /// Waits until the stage's pipe has room, for at most the stall limit,
    /// looking at the cancel every 200 ms.
    fn wait_room(&self) -> io::Result<()> {
        wait_room(self.stdin.as_fd(), self.stall, &self.cancel)
    }

    /// Writes what this process holds (headers; data only from a source that
    /// is not a pipe). A blocking pipe takes a write whole, so the stall rule
    /// holds only before it starts: headers are tiny, and no production source
    /// is anything but a pipe.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.wait_room()?;
        self.stdin.write_all(bytes)
    }

    /// A data record's header: `len` bytes at `offset` follow.
    pub fn record(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let mut header = [0u8; 17];
        header[0] = b'w';
        header[1..9].copy_from_slice(&offset.to_le_bytes());
        header[9..].copy_from_slice(&len.to_le_bytes());
        self.write(&header)
    }

    /// Duplicates up to `max` bytes from the front of `src` (a pipe) into
    /// the stage's pipe without consuming them; returns how many (0: `src`
    /// ended). The caller then reads exactly that many from `src`.
    pub fn tee_from(&mut self, src: BorrowedFd<'_>, max: usize) -> io::Result<usize> {
        loop {
            self.wait_room()?;
            match rustix::pipe::tee(src, &self.stdin, max, rustix::pipe::SpliceFlags::empty()) {
                Ok(n) => {
                    self.forwarded += n as u64;
                    return Ok(n);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Forwards bytes already read (a source that is not a pipe).
    pub fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write(bytes)?;
        self.forwarded += bytes.len() as u64;
        Ok(())
    }

    /// The end record; the stage's stdin then closes.
    pub fn finish(mut self) -> io::Result<()> {
        self.write(b"e")?;
        self.stdin.flush()
    }
}

/// Waits until the pipe `fd` writes to has room, for at most `stall`,
/// looking at `cancel` every 200 ms; then the new cluster took no data.
pub(super) fn wait_room(fd: BorrowedFd<'_>, stall: Duration, cancel: &CancellationToken) -> io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let start = Instant::now();
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    loop {
        if cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
        }
        let left = stall.saturating_sub(start.elapsed());
        let slice = left.min(Duration::from_millis(200));
        let limit = Timespec {
            tv_sec: slice.as_secs() as i64,
            tv_nsec: i64::from(slice.subsec_nanos()),
        };
        match poll(&mut fds, Some(&limit)) {
            Ok(0) if left > slice => continue,
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the new cluster took no data for {} s", stall.as_secs()),
                ))
            }
            // Ready, or an error the next write reports (EPIPE: the child is gone).
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
#[path = "pipe_forward_tests.rs"]
mod tests;

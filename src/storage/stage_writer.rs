//! The staging image on the new store, filled while the export streams.
//!
//! An export is read once from the old cluster and written twice: into the
//! sparse export file (for the tape copy, for resume, and as the reference
//! checksum) and, best effort, into `stackmigrate-<old id>` on the new store
//! through `rbd import-diff -` (or the writer that reads back; from an rbd
//! source, fed by tee(2) from the export's pipe: `pipe_forward.rs`). The
//! import stage then only has to swap or
//! adopt that image instead of reading the file back, so export and import
//! overlap for one volume. The file always comes first: a failing stage is
//! dropped and noted, the export carries on, and the import falls back to
//! reading the file. The copy still counts only after verification reads the
//! new image back.

use super::child_process::ChildProcess;
use super::image_file::ImageFile;
use super::pipe_forward::PipeForward;
use super::rbd_diff::{DiffSink, DiffWriter};
use std::fs::File;
use std::io::{self, BufWriter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where an export is streamed on the way: `image` of `size` bytes in `store`.
#[derive(Debug, Clone, Copy)]
pub struct StageTarget<'a> {
    pub store: &'a super::BlockStore,
    pub image: &'a str,
    pub size: u64,
    /// A stage that takes no data for this long is dropped (a hung new
    /// cluster must not hold the export, its slot and the source snapshot).
    pub stall: Duration,
    /// Read each extent back as its write completes, where the new store can
    /// (see `readback_stage`): the stage's checksum is then known when it ends.
    pub read_back: bool,
}

/// How the staging copy of an export went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    /// No staging was asked for.
    NotAsked,
    /// The staging image holds the whole export.
    Done,
    /// It did not work (the reason); the image was removed, import reads the file.
    Failed(String),
}

/// The writing end of a staging image, before it gets its own thread.
pub enum StageSink {
    /// A diff stream into `rbd import-diff -`'s stdin.
    Rbd(DiffWriter<BufWriter<File>>),
    /// A sparse file, renamed into place on commit.
    File(Box<ImageFile>),
}

/// An opened stage: its writer and, for rbd, the `import-diff` child.
pub struct OpenStage {
    pub writer: StageSink,
    pub child: Option<ChildProcess>,
    /// What the child reads back, hashed (the read-back writer only).
    pub read_back: Option<super::readback_stage::ReadBack>,
}

impl StageSink {
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        match self {
            StageSink::Rbd(w) => w.data(offset, data),
            StageSink::File(w) => w.data(offset, data),
        }
    }

    /// Ends the stream (rbd: the end record, then stdin closes) or commits the file.
    fn finish(self) -> io::Result<()> {
        match self {
            StageSink::Rbd(w) => w.finish().map(drop),
            StageSink::File(w) => w.commit().map(drop),
        }
    }

    /// Gives up: rbd's stdin closes without an end record, so `import-diff`
    /// fails; a file's partial copy is removed.
    fn abandon(self) {
        match self {
            StageSink::Rbd(_) => {}
            StageSink::File(w) => w.discard(),
        }
    }
}

/// What feeds an opened stage: its own thread behind a short queue, or the
/// kernel, by tee(2) from the export's own pipe ([`PipeForward`]).
pub enum StageFeed {
    Queued(StageWriter),
    Teed(PipeForward),
}

impl StageFeed {
    /// `teed`: the stream is read from a pipe (an rbd source), and an rbd
    /// stage is then fed from it by tee(2).
    /// `cancel`: the export's, which a forward's wait for room gives up on.
    pub fn start(sink: StageSink, stall: Duration, teed: bool, cancel: &CancellationToken) -> io::Result<Self> {
        match (sink, teed) {
            (StageSink::Rbd(w), true) => {
                let stdin = w.into_inner().into_inner().map_err(io::IntoInnerError::into_error)?;
                Ok(StageFeed::Teed(PipeForward::new(stdin, stall).until(cancel)))
            }
            (sink, _) => StageWriter::spawn(sink, stall).map(|w| StageFeed::Queued(w.until(cancel))),
        }
    }
}

/// Chunks queued for the stage thread: at most this many (of up to 1 MiB);
/// the 1 MiB pipe into `rbd import-diff` buffers as much again. Eight kept
/// the peak RSS at 64 MiB with 4 exports and 4 imports in flight.
const QUEUE: usize = 2;

enum Chunk {
    Data(u64, Vec<u8>),
    End,
}

/// A [`StageSink`] on its own thread behind a short queue, so that hashing
/// and writing the export file overlap with feeding the new cluster.
pub struct StageWriter {
    tx: Option<SyncSender<Chunk>>,
    /// The thread's result, sent as it ends (nothing if it panicked): waited
    /// for with a time limit; the thread itself is never joined.
    done: Receiver<io::Result<()>>,
    /// Chunks the thread has handed to the sink: progress while finishing.
    taken: Arc<AtomicU64>,
    stall: Duration,
    /// The export's: a wait for the thread gives up on it (a tape that
    /// stopped reading, which no stall limit drops, must not hold the export).
    cancel: Option<CancellationToken>,
}

impl StageWriter {
    pub fn spawn(mut sink: StageSink, stall: Duration) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<Chunk>(QUEUE);
        let (done_tx, done) = sync_channel(1);
        let taken = Arc::new(AtomicU64::new(0));
        let progress = taken.clone();
        std::thread::Builder::new().name("stage-writer".into()).spawn(move || {
            let result = (|| {
                while let Ok(chunk) = rx.recv() {
                    match chunk {
                        Chunk::Data(offset, data) => sink.data(offset, &data)?,
                        Chunk::End => return sink.finish(),
                    }
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                sink.abandon();
                Err(io::Error::new(io::ErrorKind::Interrupted, "the stream was abandoned"))
            })();
            let _ = done_tx.send(result);
        })?;
        Ok(Self {
            tx: Some(tx),
            done,
            taken,
            stall,
            cancel: None,
        })
    }

    /// Waits give up once `cancel` is cancelled.
    pub fn until(mut self, cancel: &CancellationToken) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    fn cancelled(&self) -> Option<io::Error> {
        let cancelled = self.cancel.as_ref().is_some_and(CancellationToken::is_cancelled);
        cancelled.then(|| io::Error::new(io::ErrorKind::Interrupted, "cancelled"))
    }

    /// The thread's own error once it has stopped.
    fn stopped(&mut self) -> io::Error {
        self.tx = None;
        match self.done.recv() {
            Ok(Err(e)) => e,
            _ => io::Error::other("the staging writer stopped"),
        }
    }

    /// Queues `chunk`, waiting while the queue is full, but not longer than
    /// the stall limit without progress.
    fn send(&mut self, mut chunk: Chunk) -> io::Result<()> {
        let started = Instant::now();
        loop {
            let Some(tx) = self.tx.as_ref() else {
                return Err(self.stopped());
            };
            match tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(self.stopped()),
                Err(TrySendError::Full(c)) => {
                    if let Some(e) = self.cancelled() {
                        return Err(e);
                    }
                    if started.elapsed() >= self.stall {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the new cluster took no data for {} s", self.stall.as_secs()),
                        ));
                    }
                    chunk = c;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }

    pub(super) fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.send(Chunk::Data(offset, data.to_vec()))
    }

    /// Queues the end and waits for the thread to write out the rest, under
    /// the same stall rule as `send`: a new cluster that hangs on the last
    /// MiB must not hold the export. On a stall the thread is left to die
    /// when the caller stops its child (its write then fails).
    pub(super) fn finish(mut self) -> io::Result<()> {
        self.send(Chunk::End)?;
        self.tx = None;
        let (mut seen, mut since) = (self.taken.load(Ordering::Relaxed), Instant::now());
        loop {
            match self.done.recv_timeout(self.stall.min(Duration::from_millis(100))) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Disconnected) => return Err(io::Error::other("the staging writer panicked")),
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(e) = self.cancelled() {
                        return Err(e);
                    }
                    let now = self.taken.load(Ordering::Relaxed);
                    if now != seen {
                        (seen, since) = (now, Instant::now());
                    } else if since.elapsed() >= self.stall {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!(
                                "the new cluster took no data for {} s while the stream was finishing",
                                self.stall.as_secs()
                            ),
                        ));
                    }
                }
            }
        }
    }

    /// Closes the queue; the thread abandons the stream on its own (not
    /// joined: it may be blocked on a child that is being stopped).
    pub(super) fn abandon(mut self) {
        self.tx = None;
    }
}

#[cfg(test)]
#[path = "stage_writer_tests.rs"]
mod tests;

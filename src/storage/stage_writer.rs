//! The staging image on the new store, filled while the export streams.
//!
//! An export is read once from the old cluster and written twice: into the
//! sparse export file (for the tape copy, for resume, and as the reference
//! checksum) and, best effort, into `stackmigrate-<old id>` on the new store
//! through `rbd import-diff -`. The import stage then only has to swap or
//! adopt that image instead of reading the file back, so export and import
//! overlap for one volume. The file always comes first: a failing stage is
//! dropped and noted, the export carries on, and the import falls back to
//! reading the file. The copy still counts only after verification reads the
//! new image back.

use super::child_process::ChildProcess;
use super::rbd_diff::{DiffSink, DiffWriter};
use super::sparse_file::SparseWriter;
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
    File(Box<SparseWriter>),
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
        })
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
                Err(TrySendError::Full(c)) if started.elapsed() < self.stall => {
                    chunk = c;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Full(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the new cluster took no data for {} s", self.stall.as_secs()),
                    ))
                }
            }
        }
    }

    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.send(Chunk::Data(offset, data.to_vec()))
    }

    /// Queues the end and waits for the thread to write out the rest, under
    /// the same stall rule as `send`: a new cluster that hangs on the last
    /// MiB must not hold the export. On a stall the thread is left to die
    /// when the caller stops its child (its write then fails).
    fn finish(mut self) -> io::Result<()> {
        self.send(Chunk::End)?;
        self.tx = None;
        let (mut seen, mut since) = (self.taken.load(Ordering::Relaxed), Instant::now());
        loop {
            match self.done.recv_timeout(self.stall.min(Duration::from_millis(100))) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Disconnected) => return Err(io::Error::other("the staging writer panicked")),
                Err(RecvTimeoutError::Timeout) => {
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
    fn abandon(mut self) {
        self.tx = None;
    }
}

/// The export's sink: the export file first, the stage best effort.
pub struct Tee {
    pub file: SparseWriter,
    stage: Option<StageWriter>,
    stage_size: u64,
    /// Stops the stage's child (`import-diff`) when the stage is dropped.
    stage_cancel: CancellationToken,
    /// Why the stage was dropped, if it was.
    pub stage_error: Option<String>,
    /// The stage received the whole stream and was finished cleanly.
    pub stage_finished: bool,
    /// The records the stage was sent (its writer must confirm the same).
    pub stage_sent: super::record_trail::RecordTrail,
    /// The tape command fed from the stream (no export file), if any.
    tape: Option<StageWriter>,
    /// `Ok` once the tape's stream was written whole; why not, otherwise.
    pub tape_fed: Result<(), String>,
}

impl Tee {
    pub fn new(
        file: SparseWriter,
        stage: Option<StageWriter>,
        stage_size: u64,
        stage_cancel: CancellationToken,
    ) -> Self {
        Self {
            file,
            stage,
            stage_size,
            stage_cancel,
            stage_error: None,
            stage_finished: false,
            stage_sent: Default::default(),
            tape: None,
            tape_fed: Err("the stream did not end".into()),
        }
    }

    /// Whether the stage's pieces are hashed into `stage_sent`: only where
    /// the new cluster's hashes of them will be compared with it.
    pub fn with_trail(mut self, keep: bool) -> Self {
        if !keep {
            self.stage_sent = super::record_trail::RecordTrail::off();
        }
        self
    }

    /// Feeds `tape` (the tape command's stdin) from the same stream.
    pub fn with_tape(mut self, tape: Option<StageWriter>) -> Self {
        self.tape = tape;
        self
    }

    fn drop_tape(&mut self, why: String) {
        if let Some(t) = self.tape.take() {
            t.abandon();
        }
        self.tape_fed = Err(why);
    }

    fn drop_stage(&mut self, why: String) {
        if let Some(s) = self.stage.take() {
            s.abandon();
            // Its thread may be blocked writing to a child that reads no more.
            self.stage_cancel.cancel();
        }
        self.stage_error.get_or_insert(why);
    }

    /// After a failed export: the file's partial copy goes, and the stage.
    pub fn discard(mut self) {
        self.drop_stage("the export failed".into());
        self.drop_tape("the export failed".into());
        self.file.discard();
    }
}

impl DiffSink for Tee {
    fn size(&mut self, size: u64) -> io::Result<()> {
        if self.stage.is_some() && size != self.stage_size {
            let why = format!(
                "the image is {size} bytes, not the {} bytes the staging image was created with",
                self.stage_size
            );
            self.drop_stage(why);
        }
        self.file.size(size)
    }

    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.data(offset, data)?;
        if let Some(stage) = self.stage.as_mut() {
            // The stage is a fresh image: its zeros need no writing.
            let sent = super::sparse_hash::data_runs(offset, data)
                .into_iter()
                .try_for_each(|(o, d)| {
                    stage.data(o, d)?;
                    self.stage_sent.push(o, d);
                    Ok::<_, io::Error>(())
                });
            if let Err(e) = sent {
                self.drop_stage(format!("writing the staging image: {e}"));
            }
        }
        if let (false, Some(why)) = (self.file.keeps_file(), &self.stage_error) {
            // Without an export file the stage is the copy: nothing to fall back on.
            return Err(io::Error::other(format!(
                "the stream into the new cluster failed: {why}"
            )));
        }
        if let Some(tape) = self.tape.as_mut() {
            if let Err(e) = tape.data(offset, data) {
                self.drop_tape(format!("writing to the tape command: {e}"));
            }
        }
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        if let Some(stage) = self.stage.take() {
            match stage.finish() {
                Ok(()) => self.stage_finished = true,
                Err(e) => self.drop_stage(format!("finishing the staging image: {e}")),
            }
        }
        if let Some(tape) = self.tape.take() {
            match tape.finish() {
                Ok(()) => self.tape_fed = Ok(()),
                Err(e) => self.drop_tape(format!("finishing the tape stream: {e}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "stage_writer_tests.rs"]
mod tests;

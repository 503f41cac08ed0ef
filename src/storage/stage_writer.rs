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
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;
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

/// Chunks queued for the stage thread: at most this many (of up to 1 MiB).
const QUEUE: usize = 8;

enum Chunk {
    Data(u64, Vec<u8>),
    End,
}

/// A [`StageSink`] on its own thread behind a short queue, so that hashing
/// and writing the export file overlap with feeding the new cluster.
pub struct StageWriter {
    tx: Option<SyncSender<Chunk>>,
    handle: Option<JoinHandle<io::Result<()>>>,
    stall: Duration,
}

impl StageWriter {
    pub fn spawn(mut sink: StageSink, stall: Duration) -> io::Result<Self> {
        let (tx, rx) = sync_channel::<Chunk>(QUEUE);
        let handle = std::thread::Builder::new().name("stage-writer".into()).spawn(move || {
            while let Ok(chunk) = rx.recv() {
                match chunk {
                    Chunk::Data(offset, data) => sink.data(offset, &data)?,
                    Chunk::End => return sink.finish(),
                }
            }
            sink.abandon();
            Err(io::Error::new(io::ErrorKind::Interrupted, "the stream was abandoned"))
        })?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            stall,
        })
    }

    /// The thread's own error once it has stopped.
    fn stopped(&mut self) -> io::Error {
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
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

    fn finish(mut self) -> io::Result<()> {
        self.send(Chunk::End)?;
        self.tx = None;
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the staging writer panicked")),
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
        }
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
            if let Err(e) = stage.data(offset, data) {
                self.drop_stage(format!("writing the staging image: {e}"));
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sparse_file::hash_file;
    use crate::storage::{BlockStore, Counter, FileStore};
    use std::os::unix::fs::FileExt;
    use tokio_util::sync::CancellationToken;

    /// An old store holding one 8 MiB image with data at 0 and an unaligned tail.
    fn old_store(dir: &std::path::Path) -> BlockStore {
        let old = dir.join("old");
        std::fs::create_dir_all(&old).expect("dir");
        let f = File::create(old.join("img")).expect("img");
        f.set_len(8 << 20).expect("len");
        f.write_all_at(&[7u8; 100_000], 0).expect("w");
        f.write_all_at(b"tail", (8 << 20) - 4).expect("w");
        BlockStore::File(FileStore::new(&old, None))
    }

    async fn export(old: &BlockStore, dir: &std::path::Path, new: &BlockStore) -> (String, StageOutcome) {
        let target = StageTarget {
            store: new,
            image: "stackmigrate-img",
            size: 8 << 20,
            stall: Duration::from_secs(60),
        };
        let (e, outcome) = old
            .export_staged(
                "img",
                &dir.join("export.raw"),
                Some(target),
                Counter::default(),
                &CancellationToken::new(),
            )
            .await
            .expect("the export succeeds whatever the stage does");
        assert_eq!(hash_file(&dir.join("export.raw")).expect("hash"), e.hash);
        (e.hash, outcome)
    }

    #[tokio::test]
    async fn the_stage_receives_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tmp");
        let old = old_store(dir.path());
        std::fs::create_dir_all(dir.path().join("new")).expect("dir");
        let new = BlockStore::File(FileStore::new(&dir.path().join("new"), None));
        let (hash, outcome) = export(&old, dir.path(), &new).await;
        assert_eq!(outcome, StageOutcome::Done);
        let staged = dir.path().join("new/stackmigrate-img");
        assert_eq!(hash_file(&staged).expect("staged"), hash);
        assert_eq!(std::fs::metadata(&staged).expect("meta").len(), 8 << 20);
    }

    #[tokio::test]
    async fn a_stage_that_cannot_start_leaves_the_export_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let old = old_store(dir.path());
        // The new store's directory does not exist: the staging image cannot be created.
        let new = BlockStore::File(FileStore::new(&dir.path().join("missing"), None));
        let (_, outcome) = export(&old, dir.path(), &new).await;
        assert!(
            matches!(&outcome, StageOutcome::Failed(why) if why.contains("staging image")),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_failing_stage_is_dropped_and_the_file_completes() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = SparseWriter::create(&dir.path().join("export.raw")).expect("file");
        let stage_path = dir.path().join("stage");
        let mut stage = SparseWriter::create(&stage_path).expect("stage");
        stage.size(1 << 20).expect("size");
        let writer = StageWriter::spawn(StageSink::File(Box::new(stage)), Duration::from_secs(60)).expect("spawn");
        let mut tee = Tee::new(file, Some(writer), 1 << 20, CancellationToken::new());
        tee.size(1 << 20).expect("size");
        tee.data(0, &[1u8; 4096]).expect("data");
        // The stage's partial file vanishes under it: its commit (the rename) fails at the end.
        let mut partial = stage_path.into_os_string();
        partial.push(".partial");
        std::fs::remove_file(&partial).expect("rm partial");
        tee.data(4096, &[2u8; 4096]).expect("the file still takes data");
        tee.end().expect("end");
        assert!(!tee.stage_finished);
        assert!(
            tee.stage_error.as_deref().is_some_and(|e| e.contains("staging image")),
            "{:?}",
            tee.stage_error
        );
        tee.file.commit().expect("the export file completes");
    }
}

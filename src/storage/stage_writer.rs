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

/// Where an export is streamed on the way: `image` of `size` bytes in `store`.
#[derive(Debug, Clone, Copy)]
pub struct StageTarget<'a> {
    pub store: &'a super::BlockStore,
    pub image: &'a str,
    pub size: u64,
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

/// The writing end of a staging image.
pub enum StageWriter {
    /// A diff stream into `rbd import-diff -`'s stdin.
    Rbd(DiffWriter<BufWriter<File>>),
    /// A sparse file, renamed into place on commit.
    File(Box<SparseWriter>),
}

/// An opened stage: its writer and, for rbd, the `import-diff` child.
pub struct OpenStage {
    pub writer: StageWriter,
    pub child: Option<ChildProcess>,
}

impl StageWriter {
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        match self {
            StageWriter::Rbd(w) => w.data(offset, data),
            StageWriter::File(w) => w.data(offset, data),
        }
    }

    /// Ends the stream (rbd: the end record, then stdin closes) or commits the file.
    fn finish(self) -> io::Result<()> {
        match self {
            StageWriter::Rbd(w) => w.finish().map(drop),
            StageWriter::File(w) => w.commit().map(drop),
        }
    }

    /// Gives up: rbd's stdin closes without an end record, so `import-diff`
    /// fails; a file's partial copy is removed.
    fn abandon(self) {
        match self {
            StageWriter::Rbd(_) => {}
            StageWriter::File(w) => w.discard(),
        }
    }
}

/// The export's sink: the export file first, the stage best effort.
pub struct Tee {
    pub file: SparseWriter,
    stage: Option<StageWriter>,
    stage_size: u64,
    /// Why the stage was dropped, if it was.
    pub stage_error: Option<String>,
    /// The stage received the whole stream and was finished cleanly.
    pub stage_finished: bool,
}

impl Tee {
    pub fn new(file: SparseWriter, stage: Option<StageWriter>, stage_size: u64) -> Self {
        Self {
            file,
            stage,
            stage_size,
            stage_error: None,
            stage_finished: false,
        }
    }

    fn drop_stage(&mut self, why: String) {
        if let Some(s) = self.stage.take() {
            s.abandon();
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

//! The export's sink: the export file (or, with none, its checksum) first,
//! then the staging image and the tape command fed from the same stream.

use super::pipe_forward::PipeForward;
use super::rbd_diff::DiffSink;
use super::sparse_file::SparseWriter;
use super::stage_writer::{StageFeed, StageWriter};
use std::io;
use tokio_util::sync::CancellationToken;

/// The export's sink: the export file first, the stage best effort.
pub struct Tee {
    pub file: SparseWriter,
    stage: Option<StageWriter>,
    /// The stage fed by tee(2) as the stream is read (instead of `stage`).
    forward: Option<PipeForward>,
    /// Data bytes this sink saw while `forward` fed the stage.
    seen: u64,
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
    pub fn new(file: SparseWriter, stage: Option<StageFeed>, stage_size: u64, stage_cancel: CancellationToken) -> Self {
        let (stage, forward) = match stage {
            Some(StageFeed::Queued(w)) => (Some(w), None),
            Some(StageFeed::Teed(f)) => (None, Some(f)),
            None => (None, None),
        };
        Self {
            file,
            stage,
            forward,
            seen: 0,
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
        if self.forward.take().is_some() {
            // Its stdin closed with no end record: `import-diff` fails.
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
        if (self.stage.is_some() || self.forward.is_some()) && size != self.stage_size {
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
        if self.forward.is_some() {
            // The reader fed the stage these bytes before it read them; a
            // writer that reads back leaves out the zero pieces, as here.
            self.seen += data.len() as u64;
            if self.stage_sent.kept() {
                for (o, d) in super::sparse_hash::data_runs(offset, data) {
                    self.stage_sent.push(o, d);
                }
            }
        }
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
        if let Some(sent) = self.forward.as_ref().map(PipeForward::forwarded) {
            // Every byte this sink saw went to the stage too: a reader that fed
            // no forward would leave the stage short, and it gets no end record.
            if sent != self.seen {
                self.drop_stage(format!("the stage was sent {sent} bytes of {}", self.seen));
            } else if let Some(f) = self.forward.take() {
                match f.finish() {
                    Ok(()) => self.stage_finished = true,
                    Err(e) => self.drop_stage(format!("finishing the staging image: {e}")),
                }
            }
        }
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

    fn forward(&mut self) -> Option<&mut PipeForward> {
        self.forward.as_mut()
    }

    /// The stage is dropped; with an export file the export goes on without it.
    fn forward_failed(&mut self, e: io::Error) -> io::Result<()> {
        self.drop_stage(format!("writing the staging image: {e}"));
        match self.file.keeps_file() {
            true => Ok(()),
            false => Err(io::Error::other(format!(
                "the stream into the new cluster failed: writing the staging image: {e}"
            ))),
        }
    }
}

//! The tape copy fed from the export's own stream, for runs without a
//! staging disk: the tape command's stdin gets the `rbd export-diff` stream
//! (format v1, sparse) exactly as it passes through stackmigrate, so
//! `<read the tape> | rbd import-diff - <pool>/<image>` restores it into an
//! image of the same size.

use super::child_process::{ChildExit, ChildProcess};
use super::rbd_diff::DiffWriter;
use super::stage_writer::{StageSink, StageWriter};
use super::tape_runner::TapeError;
use serde::{Deserialize, Serialize};
use std::io::BufWriter;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the tape copy fed from the stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamedTape {
    /// The tape command took the whole stream and exited 0.
    Done,
    /// It did not; the reason.
    Failed { error: String },
}

/// The tape command, started with its stdin fed from the export stream.
pub struct StreamTape {
    child: ChildProcess,
    shown: String,
}

/// A `{file}` tape template needs the export file.
pub fn needs_file(template: &[String]) -> bool {
    template.iter().any(|a| a.contains("{file}"))
}

impl StreamTape {
    /// Starts `template` (argv, no shell) and the thread that writes the
    /// stream of an image of `size` bytes into its stdin. A tape that is slow
    /// holds the export back; it is never dropped for being slow.
    /// `cancel`: the export's; the feed's waits give up on it.
    pub fn spawn(template: &[String], size: u64, cancel: &CancellationToken) -> Result<(Self, StageWriter), TapeError> {
        let shown = template.join(" ");
        if needs_file(template) {
            return Err(TapeError::Spawn {
                argv: shown,
                message: "a {file} argument needs the export file, and this run keeps none; \
                          use a command that reads stdin, or set export_dir"
                    .into(),
            });
        }
        let spawn_error = |e: std::io::Error| TapeError::Spawn {
            argv: shown.clone(),
            message: e.to_string(),
        };
        let mut child = ChildProcess::spawn(template, true, false).map_err(spawn_error)?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| spawn_error(std::io::Error::other("no stdin")))?;
        let writer = DiffWriter::new(BufWriter::with_capacity(1 << 20, stdin), size).map_err(spawn_error)?;
        let feed = StageWriter::spawn(StageSink::Rbd(writer), Duration::MAX)
            .map_err(spawn_error)?
            .until(cancel);
        Ok((Self { child, shown }, feed))
    }

    /// Waits for the command once its stream has ended; `complete` says
    /// whether the whole stream (with its end record) was written.
    pub async fn wait(self, complete: Result<(), String>, cancel: &CancellationToken) -> StreamedTape {
        let failed = |error: String| StreamedTape::Failed { error };
        let exit = self.child.wait(cancel).await;
        match (exit, complete) {
            (Ok(ChildExit::Exited { code: Some(0), .. }), Ok(())) => StreamedTape::Done,
            (Ok(ChildExit::Exited { code: Some(0), .. }), Err(why)) => {
                failed(format!("tape command {:?} got an incomplete stream: {why}", self.shown))
            }
            (Ok(ChildExit::Cancelled { .. }), _) => failed(TapeError::Cancelled.to_string()),
            (Ok(ChildExit::Exited { code, stderr }), _) => failed(
                TapeError::Failed {
                    argv: self.shown,
                    code,
                    stderr,
                }
                .to_string(),
            ),
            (Err(e), _) => failed(
                TapeError::Wait {
                    argv: self.shown,
                    message: e.to_string(),
                }
                .to_string(),
            ),
        }
    }
}

#[cfg(test)]
#[path = "stream_tape_tests.rs"]
mod tests;

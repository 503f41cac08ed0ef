//! The new image's writer after a cutover's final round that it verified
//! ([`super::read_back_round`]): it sent the stream's end once every extent
//! was read back, and still removes the image's warm-sync snapshots (a
//! monitor proposal, up to a second) before it exits.

use super::child_process::ChildExit;
use super::{DataPathError, RbdError};
use tokio_util::sync::CancellationToken;

/// The new image's writer after a round it verified, still removing the
/// image's warm-sync snapshots ([`DeltaRound::drop_target_snaps`]).
#[derive(Debug)]
pub struct SnapDrop {
    pub(super) image: String,
    pub(super) exit: tokio::task::JoinHandle<std::io::Result<ChildExit>>,
    /// The round's: an abort stops the removal too.
    pub(super) cancel: CancellationToken,
}

impl SnapDrop {
    /// Waits for the writer's exit: `Err` says why the snapshots may remain.
    pub async fn wait(self) -> Result<(), DataPathError> {
        let exit = self.exit.await.map_err(|e| DataPathError::Child(e.to_string()))?;
        writer_exit(exit, &self.image, &self.cancel).map_err(|e| match e {
            WriterFailed::Exited(e) | WriterFailed::Other(e) => e,
            WriterFailed::Stopped(said) => super::stall_writer::writer_stopped(Ok(()), said.as_deref()),
        })
    }
}

pub(super) enum WriterFailed {
    /// It exited with an error of its own.
    Exited(DataPathError),
    /// Stopped by the stall limit, with its last words.
    Stopped(Option<String>),
    Other(DataPathError),
}

pub(super) fn writer_exit(
    exit: std::io::Result<ChildExit>,
    image: &str,
    cancel: &CancellationToken,
) -> Result<(), WriterFailed> {
    let exit = exit.map_err(|e| WriterFailed::Other(DataPathError::Child(format!("the writer of {image}: {e}"))))?;
    match exit {
        ChildExit::Cancelled { .. } if !cancel.is_cancelled() => {
            Err(WriterFailed::Stopped(exit.last_words().map(str::to_string)))
        }
        ChildExit::Cancelled { .. } => Err(WriterFailed::Other(DataPathError::Cancelled)),
        ChildExit::Exited { code, stderr } if code != Some(0) => Err(WriterFailed::Exited(
            RbdError::from_exit("read-back writer", code, &stderr).into(),
        )),
        ChildExit::Exited { .. } => Ok(()),
    }
}

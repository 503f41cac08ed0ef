//! Errors of the data path: a typed rbd failure, a broken diff stream, a
//! local file problem, or an operator's cancel.

use super::rbd_diff::DiffError;
use super::RbdError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataPathError {
    #[error(transparent)]
    Rbd(RbdError),
    #[error("{what}: {source}")]
    Diff {
        what: String,
        #[source]
        source: DiffError,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Child(String),
    /// The stream into the new cluster or to the tape (no export file).
    #[error("{0}")]
    Stream(String),
    /// A read-back that differs from what was sent (warm sync's check).
    #[error("{0}")]
    Mismatch(String),
}

impl From<RbdError> for DataPathError {
    fn from(e: RbdError) -> Self {
        match e {
            // One way to say "cancelled", whichever step was stopped.
            RbdError::Cancelled { .. } => DataPathError::Cancelled,
            e => DataPathError::Rbd(e),
        }
    }
}

impl DataPathError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataPathError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

//! Errors of the data path: a typed rbd failure, a broken diff stream, a
//! local file problem, or an operator's cancel.

use super::rbd_diff::DiffError;
use super::RbdError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DataPathError {
    #[error(transparent)]
    Rbd(#[from] RbdError),
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
}

impl DataPathError {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        DataPathError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

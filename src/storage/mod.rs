//! Block storage: the `rbd` CLI of a Ceph cluster, sparse image files, the
//! diff stream between them, the sparse checksum, child processes, and
//! disk-space checks.

mod child_process;
mod data_path_error;
mod disk_space;
mod rbd_cli;
pub mod rbd_diff;
mod rbd_error;
mod rbd_store;
pub mod sparse_file;
pub mod sparse_hash;
mod tape_runner;

pub use child_process::{ChildExit, ChildProcess, GRACE};
pub use data_path_error::DataPathError;
pub use disk_space::{free_bytes, is_writable};
pub use rbd_cli::RbdCli;
pub use rbd_error::RbdError;
pub use rbd_store::{Counter, Exported, ImageInfo, RbdStore};
pub use tape_runner::{run_tape, tape_argv, TapeError};

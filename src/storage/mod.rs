//! Block storage: the `rbd` CLI of a Ceph cluster, sparse image files, the
//! diff stream between them, the sparse checksum, child processes, and
//! disk-space checks.

mod child_process;
mod disk_space;
mod rbd_cli;
pub mod rbd_diff;
mod rbd_error;
pub mod sparse_file;
pub mod sparse_hash;

pub use child_process::{ChildExit, ChildProcess, GRACE};
pub use disk_space::{free_bytes, is_writable};
pub use rbd_cli::RbdCli;
pub use rbd_error::RbdError;

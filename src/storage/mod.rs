//! Block storage: the `rbd` CLI of a Ceph cluster, and disk-space checks.
//! The data path (export, import, verify) builds on these pieces.

mod disk_space;
mod rbd_cli;
mod rbd_error;

pub use disk_space::{free_bytes, is_writable};
pub use rbd_cli::RbdCli;
pub use rbd_error::RbdError;

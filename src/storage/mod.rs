//! Block storage: the `rbd` CLI of a Ceph cluster, sparse image files, the
//! diff stream between them, the sparse checksum, child processes, and
//! disk-space checks.

mod block_delta;
pub mod block_manifest;
mod block_store;
mod child_process;
pub mod compiled_helper;
mod data_path_error;
mod delta_sinks;
mod diff_child;
mod diff_listing;
mod direct_run;
mod disk_space;
mod extents;
mod file_store;
mod image_file;
mod lock_holder;
pub mod pipe_forward;
pub mod private_fs;
mod rbd_cli;
pub mod rbd_diff;
mod rbd_error;
mod rbd_store;
mod read_back_round;
mod readback_stage;
mod record_trail;
pub mod sparse_file;
pub mod sparse_hash;
mod stage_child;
mod stage_writer;
mod stall_writer;
mod stray_objects;
mod stream_tape;
mod tape_runner;
mod target_facts;
mod tee;
mod volume_export;

pub use block_delta::{DeltaApplied, DeltaRound};
pub use block_manifest::BlockManifest;
pub use block_store::{BlockStore, ExportTargets};
pub use child_process::{kill_all_groups, ChildExit, ChildProcess, GRACE};
pub use data_path_error::DataPathError;
pub use disk_space::{free_bytes, is_writable};
pub use extents::Extents;
pub use file_store::FileStore;
pub use rbd_cli::RbdCli;
pub use rbd_error::RbdError;
pub use rbd_store::{Counter, ImageInfo, RbdStore};
pub use read_back_round::{RoundHelpers, SnapDrop};
pub use readback_stage::probe_in_background;
pub use stage_writer::{StageOutcome, StageTarget};
pub use stream_tape::{needs_file, StreamedTape};
pub use tape_runner::{run_tape, tape_argv, TapeError};
pub use target_facts::{FactsAnswer, TargetFacts};
pub use volume_export::VolumeExport;

//! The data path and the engine on the real testbed: one volume's export,
//! import (both strategies), tape copy and faults; then whole runs of the
//! `migrate` command, with abort, retry, kill -9 and resume. Checksums are
//! compared at the source, the export file, the tape copy and the new
//! image, each read independently (`rbd export -`, files).

mod cold_lock;
mod compiled_helper;
mod delta_listing;
mod engine_run;
mod export_stopped;
mod faults;
#[path = "../common/fixtures.rs"]
mod fixtures;
mod hardening;
mod hung_cutover;
mod long_rbd;
mod migrate_one;
mod names;
mod no_export_file;
mod read_back_checksum;
mod real_servers;
mod resume;
mod run_guards;
mod snap_drop;
#[path = "../common/testbed.rs"]
mod testbed;
mod warm_sync;
mod warm_sync_finish;
mod warm_sync_guard;
mod warm_sync_lock;
mod warm_sync_redo;

//! The engine: plans become per-volume pipelines whose progress flows out as
//! [`EngineEvent`]s. It never imports the UI; the TUI, the headless runner and
//! the tests are all clients of the same events.

mod cleanup;
mod engine_event;
mod inventory;
mod journal;
mod journal_ledger;
mod lap;
mod migration;
mod new_volume_ledger;
mod preflight;
mod progress;
mod report;
mod run_setup;
mod stage_error;
mod sync_control;
mod sync_export_restore;
mod sync_guard;
mod sync_record;
mod sync_snaps;
mod tape_drives;
mod transition;
mod volume_cutover;
mod volume_import;
mod volume_locks;
mod volume_pipeline;
mod volume_precreate;
mod volume_row;
mod volume_start_over;
mod volume_state;
mod volume_sync;
mod volume_tape;
mod volume_types;
mod volume_verify;
mod worker;
mod worker_sync;

pub use cleanup::run_cleanup;
pub use engine_event::{EngineCommand, EngineEvent, PlannedVolume, Stage, Summary};
pub use inventory::write_inventory;
pub use journal::{Journal, JournalError};
pub use migration::{run_locked, run_migration, EngineError, Plan};
pub use new_volume_ledger::{MemoryLedger, NewVolumeLedger, CLAIM_KEY};
pub use preflight::{ask_clusters_early, ClusterAnswers, Preflight, PreflightProgress, NO_FILE_TAPE};
pub use progress::with_progress;
pub use run_setup::{RunOptions, RunSetup, Running, SetupError};
pub use stage_error::StageError;
pub use sync_control::{SyncControl, SyncPlan};
pub use tape_drives::DrivePool;
pub use volume_locks::{VolumeLockError, VolumeLocks};
pub use volume_pipeline::{
    CopyMode, ImportedVolume, PipelineSettings, VolumeExport, VolumePipeline, SOURCE_KEY, STAGE_STALL, STATE_KEY,
};
pub use volume_row::{
    left_out_for_status, project_listing, project_volumes, AttachedServer, ProjectListing, VolumeRow, MIGRATABLE,
};
pub use volume_state::{apply, IllegalTransition, Phase, SyncRecord, SyncRound, Track, Transition, VolumeRecord};
pub use volume_sync::{sync_round_of, sync_snap, SYNC_PREFIX};

//! The engine: plans become per-volume pipelines whose progress flows out as
//! [`EngineEvent`]s. It never imports the UI; the TUI, the headless runner and
//! the tests are all clients of the same events.

mod engine_event;
mod journal;
mod progress;
mod stage_error;
mod volume_import;
mod volume_pipeline;
mod volume_state;

pub use engine_event::{EngineEvent, Stage};
pub use journal::{Journal, JournalError};
pub use progress::with_progress;
pub use stage_error::StageError;
pub use volume_pipeline::{ImportedVolume, PipelineSettings, VolumeExport, VolumePipeline, SOURCE_KEY, STATE_KEY};
pub use volume_state::{apply, ExportInfo, IllegalTransition, Phase, Track, Transition, VolumeRecord};

//! The engine: plans become per-volume pipelines whose progress flows out as
//! [`EngineEvent`]s. It never imports the UI; the TUI, the headless runner and
//! the tests are all clients of the same events.

mod engine_event;
mod progress;
mod stage_error;
mod volume_import;
mod volume_pipeline;

pub use engine_event::{EngineEvent, Stage};
pub use progress::with_progress;
pub use stage_error::StageError;
pub use volume_pipeline::{
    ImportedVolume, PipelineSettings, VolumeExport, VolumePipeline, SOURCE_KEY, STATE_KEY,
};

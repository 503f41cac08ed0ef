//! A failed stage: which stage, and a message that names the volume and says
//! what to do next.

use super::Stage;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage} failed for volume {volume}: {message}")]
pub struct StageError {
    pub stage: Stage,
    pub volume: String,
    pub message: String,
}

impl StageError {
    pub fn new(stage: Stage, volume: &str, message: impl std::fmt::Display) -> Self {
        Self {
            stage,
            volume: volume.to_string(),
            message: message.to_string(),
        }
    }
}

//! What the engine tells its clients. Messages carry data: a client never
//! has to reach back into the engine for state.

use serde::{Deserialize, Serialize};

/// A stage of one volume's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Export,
    Import,
    Verify,
    Tape,
    Cleanup,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Export => "export",
            Stage::Import => "import",
            Stage::Verify => "verify",
            Stage::Tape => "tape",
            Stage::Cleanup => "cleanup",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    StageStarted {
        volume: String,
        stage: Stage,
    },
    Progress {
        volume: String,
        stage: Stage,
        bytes: u64,
        total: u64,
    },
    Log {
        volume: Option<String>,
        line: String,
    },
    StageFinished {
        volume: String,
        stage: Stage,
    },
    VolumeFailed {
        volume: String,
        stage: Stage,
        error: String,
        attempt: u32,
    },
}

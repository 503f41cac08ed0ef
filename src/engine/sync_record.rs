//! What the journal keeps of a warm sync: its rounds, where the copy lives
//! on the new cluster, and how the cutover went.

use serde::{Deserialize, Serialize};

/// One verified warm-sync round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRound {
    pub round: u32,
    /// The source snapshot the copy now equals.
    pub snap: String,
    /// When that snapshot was taken (RFC 3339, UTC).
    pub at: String,
    /// Data bytes the round moved.
    pub bytes: u64,
    /// The whole image's checksum, from the block manifest.
    pub root: String,
    pub seconds: f64,
}

/// A volume copied while running servers may write to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncRecord {
    /// The new cluster's image that holds the copy.
    pub image: String,
    /// The new Cinder volume (`replace`; `manage` has none before cutover).
    pub new_id: Option<String>,
    pub rounds: Vec<SyncRound>,
    /// A round was started and not verified: its writes may be on the new image.
    pub attempted: Option<u32>,
    /// Why the last cutover was refused.
    pub refused: Option<String>,
    /// The final round is verified (the source was detached or stopped).
    pub final_round: bool,
    /// The cutover went ahead while a server may still write (`--force-cutover`).
    pub forced: bool,
}

impl SyncRecord {
    pub fn last(&self) -> Option<&SyncRound> {
        self.rounds.last()
    }
}

//! One volume's export: the sparse file, its size, the data bytes read, its
//! checksum and whether it was also streamed into the staging image. The
//! data path returns it, the engine passes it along, and the journal stores
//! it as is (`path` as a string, `staged` absent in older journals).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeExport {
    pub path: PathBuf,
    /// The image size in bytes.
    pub size: u64,
    /// Data bytes read from the old store (allocated extents).
    pub data_bytes: u64,
    /// The checksum, naming its scheme (see `sparse_hash`).
    pub hash: String,
    /// Also streamed into the new store's staging image, so the import need
    /// not read the file back.
    #[serde(default)]
    pub staged: bool,
    /// When the snapshot it was read from was taken (RFC 3339, UTC): the
    /// point in time the copy represents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// A server that was running may have written to the source meanwhile:
    /// the copy is crash-consistent at `taken_at`, later writes not copied.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub live: bool,
    /// No export file was kept (`export_dir: null`): the copy went straight
    /// into the staging image, and `path` is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_file: bool,
    /// The tape copy fed from this export's stream (no export file), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed_tape: Option<super::stream_tape::StreamedTape>,
}

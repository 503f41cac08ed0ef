//! One volume's export: the sparse file, its size, the data bytes read, its
//! checksum and whether it was also streamed into the staging image. The
//! data path returns it, the engine passes it along, and the journal stores
//! it as is (`path` as a string, `staged` absent in older journals).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Read under the source's exclusive lock, with no snapshot: no write
    /// could land while it was read, so the copy is the image at `taken_at`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// Read from a warm sync's first snapshot (`stackmigrate-sync-1`, kept on
    /// the source): the volume's round 1 starts from this export, whatever its
    /// servers do by the next run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sync_snap: bool,
    /// No export file was kept (`export_dir: null`): the copy went straight
    /// into the staging image, and `path` is empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_file: bool,
    /// The tape copy fed from this export's stream (no export file), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed_tape: Option<super::stream_tape::StreamedTape>,
    /// The staging image's checksum, read back from the new cluster extent
    /// by extent as the stage wrote it (`readback_stage`). Never journaled: a
    /// resumed run reads the image again.
    #[serde(skip)]
    pub read_back: Option<String>,
}

impl VolumeExport {
    /// This export as the reference for verifying an image: its read-back
    /// checksum counts only for the very stage it was read from
    /// (`as_staged`), never for an image filled again from the file.
    pub fn for_image(&self, as_staged: bool) -> VolumeExport {
        VolumeExport {
            read_back: self.read_back.clone().filter(|_| as_staged),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resumed run must read the new image back itself: the stage's
    /// read-back checksum never reaches the journal.
    #[test]
    fn a_read_back_checksum_is_never_journaled() {
        let export = VolumeExport {
            path: PathBuf::from("/exports/volume-a.raw"),
            size: 1 << 30,
            data_bytes: 4096,
            hash: "blake3-sparse-64k-v2:00".into(),
            staged: true,
            taken_at: None,
            live: false,
            locked: false,
            sync_snap: false,
            no_file: false,
            streamed_tape: None,
            read_back: Some("blake3-sparse-64k-v2:00".into()),
        };
        let json = serde_json::to_string(&export).expect("json");
        assert!(!json.contains("read_back"), "{json}");
        let back: VolumeExport = serde_json::from_str(&json).expect("parse");
        assert_eq!(
            back,
            VolumeExport {
                read_back: None,
                ..export.clone()
            }
        );
        assert_eq!(export.for_image(true), export);
        assert_eq!(
            export.for_image(false).read_back,
            None,
            "an image filled again is read back"
        );
    }
}

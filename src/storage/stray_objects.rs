//! Objects a copy holds where its source holds none. A cutover's final
//! round read under the source's exclusive lock takes no snapshot: cut short
//! after it began writing, what it wrote is known only as "the changes since
//! the last round", and an object the source made since that round, which
//! the try copied and the source then discarded whole (a server started
//! again in between), is in no diff its redo can take. The copy would keep
//! it. Wherever the source has no object the image reads zeros, so the
//! redo zeros every object of the copy the source lacks (`strays`).

use super::diff_listing::changed_extents;
use super::{BlockStore, DataPathError, Extents};
use std::fs::File;
use tokio_util::sync::CancellationToken;

impl BlockStore {
    /// Where `image` (at `snap`, if any) has objects: `rbd diff
    /// --whole-object` (the object map, where fast-diff is on), or a file
    /// store's data extents.
    pub async fn objects(
        &self,
        image: &str,
        snap: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Extents, DataPathError> {
        let name = match snap {
            Some(s) => format!("{image}@{s}"),
            None => image.to_string(),
        };
        match self {
            BlockStore::Rbd(s) => {
                let spec = s.spec(&name);
                let args = ["diff", "--whole-object", "--format", "plain", spec.as_str()];
                Ok(s.cli().run_long_with("diff", &args, cancel, changed_extents).await?)
            }
            BlockStore::File(f) => {
                let path = f.path(&name);
                File::open(&path)
                    .and_then(|file| Extents::data_of(&file))
                    .map_err(|e| DataPathError::io(&path, e))
            }
        }
    }
}

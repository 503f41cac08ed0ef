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

impl Extents {
    /// The parts of `self` that `other` does not cover.
    pub fn minus(&self, other: &Extents) -> Extents {
        let mut out = Extents::default();
        let mut j = 0;
        for &(off, len) in &self.0 {
            let (mut pos, end) = (off, off + len);
            while pos < end {
                while j < other.0.len() && other.0[j].0 + other.0[j].1 <= pos {
                    j += 1;
                }
                match other.0.get(j) {
                    Some(&(o, l)) if o <= pos => pos = (o + l).min(end),
                    Some(&(o, _)) if o < end => {
                        out.push(pos, o - pos);
                        pos = o;
                    }
                    _ => {
                        out.push(pos, end - pos);
                        pos = end;
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(v: &[(u64, u64)]) -> Extents {
        let mut e = Extents::default();
        v.iter().for_each(|&(o, l)| e.push(o, l));
        e
    }

    #[test]
    fn what_the_other_does_not_cover_is_left() {
        let copy = ext(&[(0, 8), (16, 8), (32, 8)]);
        assert_eq!(copy.minus(&Extents::default()), copy);
        assert_eq!(copy.minus(&copy), Extents::default());
        // Partly covered at either end, split in the middle, untouched.
        let source = ext(&[(0, 4), (18, 2), (36, 10)]);
        assert_eq!(copy.minus(&source), ext(&[(4, 4), (16, 2), (20, 4), (32, 4)]));
        // One extent of the other spans several of self.
        assert_eq!(copy.minus(&ext(&[(4, 30)])), ext(&[(0, 4), (34, 6)]));
        assert_eq!(Extents::default().minus(&copy), Extents::default());
    }
}

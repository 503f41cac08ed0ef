//! Byte ranges of an image, kept merged and in order: what a round must
//! read back, where a file holds data, where an image has objects.

use super::sparse_file::DataExtents;
use std::fs::File;
use std::io;

/// Extents a read-back must cover, kept merged and in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Extents(pub Vec<(u64, u64)>);

impl Extents {
    pub fn push(&mut self, offset: u64, len: u64) {
        if len == 0 {
            return;
        }
        match self.0.last_mut() {
            Some((o, l)) if offset >= *o && *o + *l >= offset => *l = (*l).max(offset + len - *o),
            Some((o, _)) if offset < *o => {
                // Out of order (the streams are checked, so never expected): kept
                // right by sorting and merging again, never by wrapping a length.
                let mut all = std::mem::take(&mut self.0);
                all.push((offset, len));
                all.sort_unstable();
                for (o, l) in all {
                    self.push(o, l);
                }
            }
            _ => self.0.push((offset, len)),
        }
    }

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

    /// The first extent of `self` that `other` does not cover.
    pub fn first_uncovered(&self, other: &Extents) -> Option<(u64, u64)> {
        self.minus(other).0.first().copied()
    }

    pub fn bytes(&self) -> u64 {
        self.0.iter().map(|e| e.1).sum()
    }

    /// Whether any extent overlaps `[offset, offset + len)`.
    pub fn overlaps(&self, offset: u64, len: u64) -> bool {
        let i = self.0.partition_point(|&(o, l)| o + l <= offset);
        self.0.get(i).is_some_and(|&(o, _)| o < offset + len)
    }

    /// Where `file` holds data (its holes read as zeros without being read).
    pub fn data_of(file: &File) -> io::Result<Self> {
        let mut e = Self::default();
        for x in DataExtents::new(file)? {
            let (off, len) = x?;
            e.push(off, len);
        }
        Ok(e)
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

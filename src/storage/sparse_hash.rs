//! The checksum of an image whose cost follows its data, not its size.
//!
//! The image is cut into 64 KiB blocks and every block that is not all zeros
//! goes into one BLAKE3 hasher, in order; the image size (u64 LE) goes last.
//! Zero blocks contribute nothing, so a hole, a run of written zeros and an
//! unallocated RBD extent all hash the same, and a sparse 8 GiB image costs
//! what its data costs. The same function is applied at the source, to the
//! export file, to the tape copy and to the new image.
//!
//! Two schemes, told apart by the checksum string itself:
//! - `blake3-sparse-64k-v2` (written now, `blake3-sparse-64k-v2:<hex>`): a
//!   keyed BLAKE3 (derive-key context below); each block is framed as index
//!   (u64 LE), length (u64 LE), bytes up to its last non-zero byte. Every
//!   record is at least 17 bytes and the size is the last 8, so the input
//!   parses one way only: two images cannot feed the hasher the same bytes.
//! - `blake3-sparse-64k` (bare hex, journals and reports of earlier
//!   versions): index and trimmed bytes without a length, which is ambiguous
//!   (0xAA at 0 + 0xBB at 64 KiB feeds what `AA 01 00..00 BB` at 0 feeds).
//!   Still computed, only to verify copies whose export used it.
//!
//! This hash decides whether an export may be deleted: a collision would
//! let a wrong copy pass, so it is treated as a security boundary.

pub const BLOCK: u64 = 64 * 1024;
/// The scheme written by this version.
pub const ALGORITHM: &str = Scheme::CURRENT.name();
const V2_PREFIX: &str = "blake3-sparse-64k-v2:";
const V2_CONTEXT: &str = "stackmigrate 2026-12-01 sparse image checksum blake3-sparse-64k-v2";

/// Which checksum scheme a checksum string was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `blake3-sparse-64k`: earlier versions' (ambiguous) encoding.
    V1,
    /// `blake3-sparse-64k-v2`: length-framed blocks, keyed hasher.
    V2,
}

impl Scheme {
    pub const CURRENT: Scheme = Scheme::V2;

    pub const fn name(self) -> &'static str {
        match self {
            Scheme::V1 => "blake3-sparse-64k",
            Scheme::V2 => "blake3-sparse-64k-v2",
        }
    }

    /// The scheme of a stored checksum; `None` for anything this version did
    /// not write (a newer scheme, a damaged journal).
    pub fn of(checksum: &str) -> Option<Scheme> {
        let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        match checksum.strip_prefix(V2_PREFIX) {
            Some(h) if hex(h) => Some(Scheme::V2),
            None if hex(checksum) => Some(Scheme::V1),
            _ => None,
        }
    }
}

/// The hex digest of a stored checksum, without its scheme.
pub fn digest(checksum: &str) -> &str {
    checksum.strip_prefix(V2_PREFIX).unwrap_or(checksum)
}

/// Feeds bytes at increasing offsets; gaps between writes are zeros.
pub struct SparseHasher {
    scheme: Scheme,
    hasher: blake3::Hasher,
    block: Vec<u8>,
    /// Index of the block being assembled in `block`.
    index: u64,
    /// Bytes of that block filled so far (anything below is data or zeros).
    filled: usize,
    /// One past the highest offset seen.
    end: u64,
}

impl Default for SparseHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl SparseHasher {
    /// A hasher of the current scheme.
    pub fn new() -> Self {
        Self::with_scheme(Scheme::CURRENT)
    }

    /// A hasher of `scheme`: verifying a copy whose export an earlier version hashed.
    pub fn with_scheme(scheme: Scheme) -> Self {
        let hasher = match scheme {
            Scheme::V1 => blake3::Hasher::new(),
            Scheme::V2 => blake3::Hasher::new_derive_key(V2_CONTEXT),
        };
        Self {
            scheme,
            hasher,
            block: vec![0; BLOCK as usize],
            index: 0,
            filled: 0,
            end: 0,
        }
    }

    fn flush_block(&mut self) {
        // Trailing zeros are trimmed: a block is implicitly zero-padded, so
        // how far it was filled (a full read or an extent) cannot matter.
        hash_block(self.scheme, &mut self.hasher, self.index, &self.block[..self.filled]);
        self.block[..self.filled].fill(0);
        self.filled = 0;
    }

    /// Adds `data` found at `offset`. Offsets must not go backwards.
    pub fn write_at(&mut self, mut offset: u64, mut data: &[u8]) {
        while !data.is_empty() {
            let index = offset / BLOCK;
            if index != self.index {
                if self.filled > 0 {
                    self.flush_block();
                }
                self.index = index;
            }
            let within = (offset % BLOCK) as usize;
            let n = data.len().min(BLOCK as usize - within);
            if within == 0 && n == BLOCK as usize && self.filled == 0 {
                // A whole block at once (the usual case): hashed in place, no copy.
                hash_block(self.scheme, &mut self.hasher, index, &data[..n]);
                offset += n as u64;
                data = &data[n..];
                self.end = self.end.max(offset);
                continue;
            }
            self.block[within..within + n].copy_from_slice(&data[..n]);
            self.filled = self.filled.max(within + n);
            offset += n as u64;
            data = &data[n..];
            self.end = self.end.max(offset);
        }
    }

    /// Finishes with the image size (which may exceed the last data); the
    /// checksum string names its scheme (bare hex for the old one).
    pub fn finish(mut self, size: u64) -> String {
        if self.filled > 0 {
            self.flush_block();
        }
        self.hasher.update(&size.max(self.end).to_le_bytes());
        let hex = self.hasher.finalize().to_hex();
        match self.scheme {
            Scheme::V1 => hex.to_string(),
            Scheme::V2 => format!("{V2_PREFIX}{hex}"),
        }
    }
}

/// Adds one block: its index, (v2) its trimmed length, and its bytes up to
/// the last non-zero one.
fn hash_block(scheme: Scheme, hasher: &mut blake3::Hasher, index: u64, data: &[u8]) {
    if let Some(last) = data.iter().rposition(|&b| b != 0) {
        hasher.update(&index.to_le_bytes());
        if scheme == Scheme::V2 {
            hasher.update(&(last as u64 + 1).to_le_bytes());
        }
        hasher.update(&data[..=last]);
    }
}

/// The sparse hash of a plain byte stream (a full `rbd export -`, a tape copy).
pub async fn hash_stream<R: tokio::io::AsyncRead + Unpin>(r: R) -> std::io::Result<(String, u64)> {
    hash_stream_with(r, Scheme::CURRENT).await
}

/// [`hash_stream`] in a given scheme.
pub async fn hash_stream_with<R: tokio::io::AsyncRead + Unpin>(
    mut r: R,
    scheme: Scheme,
) -> std::io::Result<(String, u64)> {
    use tokio::io::AsyncReadExt;
    let mut h = SparseHasher::with_scheme(scheme);
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.write_at(offset, &buf[..n]);
        offset += n as u64;
    }
    Ok((h.finish(offset), offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash_of(image: &[u8]) -> String {
        hash_in(Scheme::CURRENT, image)
    }

    fn hash_in(scheme: Scheme, image: &[u8]) -> String {
        let mut h = SparseHasher::with_scheme(scheme);
        h.write_at(0, image);
        h.finish(image.len() as u64)
    }

    #[test]
    fn zeros_written_or_skipped_hash_the_same() {
        let mut image = vec![0u8; 5 * BLOCK as usize + 123];
        image[70_000..70_010].copy_from_slice(b"0123456789");
        image[4 * BLOCK as usize + 5] = 7;
        let full = hash_of(&image);
        // The same image as extents, with the zero gaps never written.
        let mut h = SparseHasher::new();
        h.write_at(70_000, b"0123456789");
        h.write_at(4 * BLOCK + 5, &[7]);
        assert_eq!(h.finish(image.len() as u64), full);
        // And in odd-sized chunks crossing block borders.
        let mut h = SparseHasher::new();
        for (i, chunk) in image.chunks(9_999).enumerate() {
            h.write_at(i as u64 * 9_999, chunk);
        }
        assert_eq!(h.finish(image.len() as u64), full);
    }

    #[test]
    fn whole_blocks_hash_as_partial_writes_do() {
        // Whole aligned blocks take the no-copy path; a block may also arrive
        // in pieces, or start with a piece and end with a whole-block write.
        let image: Vec<u8> = (0..4 * BLOCK as usize + 777)
            .map(|i| {
                if (BLOCK as usize..2 * BLOCK as usize).contains(&i) {
                    0
                } else {
                    (i % 251) as u8
                }
            })
            .collect();
        let expected = {
            let mut h = SparseHasher::new();
            for (i, b) in image.iter().enumerate() {
                h.write_at(i as u64, std::slice::from_ref(b));
            }
            h.finish(image.len() as u64)
        };
        for chunk in [BLOCK as usize, 2 * BLOCK as usize, 1 << 20, 4096] {
            let mut h = SparseHasher::new();
            for (i, c) in image.chunks(chunk).enumerate() {
                h.write_at((i * chunk) as u64, c);
            }
            assert_eq!(h.finish(image.len() as u64), expected, "chunks of {chunk}");
        }
        let mut h = SparseHasher::new();
        h.write_at(0, &image[..100]);
        h.write_at(100, &image[100..]);
        assert_eq!(h.finish(image.len() as u64), expected, "a piece, then the rest");
    }

    #[test]
    fn size_position_and_content_all_count() {
        let mut a = vec![0u8; 3 * BLOCK as usize];
        a[10] = 1;
        let base = hash_of(&a);
        let mut longer = a.clone();
        longer.extend_from_slice(&[0; 512]);
        assert_ne!(hash_of(&longer), base, "an unaligned zero tail changes the size");
        let mut moved = vec![0u8; 3 * BLOCK as usize];
        moved[BLOCK as usize + 10] = 1;
        assert_ne!(hash_of(&moved), base, "same bytes in another block");
        let mut changed = a.clone();
        changed[11] = 1;
        assert_ne!(hash_of(&changed), base);
        assert_ne!(hash_of(&[]), hash_of(&[0]), "empty vs one zero byte");
    }

    /// The collision the v1 encoding allowed (issue 10, item 9): 0xAA at 0
    /// and 0xBB at 64 KiB feed v1 the bytes `0, AA, 1, BB, size`; so does
    /// `AA 01 00..00 BB` at offset 0 (the 00s are the rest of block 1's index).
    #[test]
    fn the_v1_collision_is_gone_in_v2() {
        let size = 2 * BLOCK as usize;
        let mut a = vec![0u8; size];
        a[0] = 0xAA;
        a[BLOCK as usize] = 0xBB;
        let mut b = vec![0u8; size];
        b[0] = 0xAA;
        b[1..9].copy_from_slice(&1u64.to_le_bytes());
        b[9] = 0xBB;
        assert_ne!(a, b);
        assert_eq!(hash_in(Scheme::V1, &a), hash_in(Scheme::V1, &b), "v1 collides");
        assert_ne!(hash_in(Scheme::V2, &a), hash_in(Scheme::V2, &b), "v2 tells them apart");
        assert_eq!(Scheme::CURRENT, Scheme::V2);
        assert_ne!(hash_of(&a), hash_of(&b));
    }

    #[test]
    fn a_checksum_names_its_scheme() {
        let image = [1u8, 2, 3];
        let v1 = hash_in(Scheme::V1, &image);
        let v2 = hash_in(Scheme::V2, &image);
        assert_eq!(Scheme::of(&v1), Some(Scheme::V1));
        assert_eq!(Scheme::of(&v2), Some(Scheme::V2));
        assert!(v2.starts_with("blake3-sparse-64k-v2:"));
        assert_eq!(digest(&v2).len(), 64);
        assert_eq!(digest(&v1), v1);
        assert_ne!(digest(&v2), v1, "another hasher, not the old digest relabelled");
        assert_eq!(Scheme::of("blake3-sparse-64k-v3:00"), None);
        assert_eq!(Scheme::of("not a checksum"), None);
    }

    /// A checksum an earlier version wrote into a journal still verifies:
    /// this is v1 of `[1, 2, 3]` as that version computed it.
    #[test]
    fn earlier_versions_checksums_still_verify() {
        let mut h = blake3::Hasher::new();
        h.update(&0u64.to_le_bytes());
        h.update(&[1, 2, 3]);
        h.update(&3u64.to_le_bytes());
        assert_eq!(hash_in(Scheme::V1, &[1, 2, 3]), h.finalize().to_hex().to_string());
    }
}

//! The checksum of an image whose cost follows its data, not its size.
//!
//! `blake3-sparse-64k`: the image is cut into 64 KiB blocks; every block that
//! is not all zeros is hashed as (block index as u64 LE, block bytes up to its
//! last non-zero byte) into one
//! BLAKE3 hasher, in order; the image size (u64 LE) is hashed last. Zero blocks
//! contribute nothing, so a hole, a run of written zeros and an unallocated
//! RBD extent all hash the same, and a sparse 8 GiB image costs what its data
//! costs. The same function is applied at the source, to the export file, to
//! the tape copy and to the new image.

pub const BLOCK: u64 = 64 * 1024;
pub const ALGORITHM: &str = "blake3-sparse-64k";

/// Feeds bytes at increasing offsets; gaps between writes are zeros.
pub struct SparseHasher {
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
    pub fn new() -> Self {
        Self {
            hasher: blake3::Hasher::new(),
            block: vec![0; BLOCK as usize],
            index: 0,
            filled: 0,
            end: 0,
        }
    }

    fn flush_block(&mut self) {
        // Trailing zeros are trimmed: a block is implicitly zero-padded, so
        // how far it was filled (a full read or an extent) cannot matter.
        hash_block(&mut self.hasher, self.index, &self.block[..self.filled]);
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
                hash_block(&mut self.hasher, index, &data[..n]);
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

    /// Finishes with the image size (which may exceed the last data).
    pub fn finish(mut self, size: u64) -> String {
        if self.filled > 0 {
            self.flush_block();
        }
        self.hasher.update(&size.max(self.end).to_le_bytes());
        self.hasher.finalize().to_hex().to_string()
    }
}

/// Adds one block: its index and its bytes up to the last non-zero one.
fn hash_block(hasher: &mut blake3::Hasher, index: u64, data: &[u8]) {
    if let Some(last) = data.iter().rposition(|&b| b != 0) {
        hasher.update(&index.to_le_bytes());
        hasher.update(&data[..=last]);
    }
}

/// The sparse hash of a plain byte stream (a full `rbd export -`, a tape copy).
pub async fn hash_stream<R: tokio::io::AsyncRead + Unpin>(mut r: R) -> std::io::Result<(String, u64)> {
    use tokio::io::AsyncReadExt;
    let mut h = SparseHasher::new();
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
        let mut h = SparseHasher::new();
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
}

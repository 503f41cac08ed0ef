//! A synced volume's per-block hash manifest: for every 64 KiB block of the
//! source image as of the last verified round, its `Blocks`-scheme hash (all
//! zeros for a zero block). It lives beside the journal, one fixed-size entry
//! per block (entry `i` at byte `32 i`, so the file is sparse like the image),
//! and is updated in place for the blocks a round changed, then fsync'd
//! before the round is journaled. A round cut short by a crash is redone
//! from the last verified snapshot with a delta that covers every block the
//! cut round touched, so a half-updated manifest is always rewritten.
//!
//! The whole-image checksum (`blake3-blocks-64k-v1`) follows from the
//! manifest without reading the image; reading the image gives the same value.

use super::private_fs;
use super::sparse_file::DataExtents;
use super::sparse_hash::{block_hash, BlocksRoot, BLOCK};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const ENTRY: u64 = 32;
/// The most bytes `build` reads at once (whole blocks).
const RUN: u64 = 64 * BLOCK;

pub struct BlockManifest {
    path: PathBuf,
    file: File,
}

impl BlockManifest {
    /// Where a volume's manifest lives in `dir` (`<project dir>/sync`).
    pub fn path_for(dir: &Path, volume_id: &str) -> PathBuf {
        dir.join(format!("{volume_id}.manifest"))
    }

    /// Builds the manifest of `image_file` (round 1: the verified export file)
    /// afresh at `path`, written as `path.new` and renamed when whole.
    /// Returns it with the image's checksum.
    pub fn build(path: &Path, image_file: &Path) -> io::Result<(Self, String)> {
        if let Some(dir) = path.parent() {
            private_fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("manifest.new");
        let _ = std::fs::remove_file(&tmp);
        let out = private_fs::create_file(&tmp)?;
        let src = File::open(image_file)?;
        let size = src.metadata()?.len();
        // Whole runs of blocks per read: the export file is written with
        // O_DIRECT, so this reads it from disk, where 64 KiB reads one after
        // another waited on the disk for each (35 s for 2 GiB of data in 4 MiB
        // runs on the testbed's disk, against about 2 s this way).
        let mut buf = vec![0u8; RUN as usize];
        let mut entries = Vec::with_capacity((RUN / BLOCK * ENTRY) as usize);
        for extent in DataExtents::new(&src)? {
            let (off, len) = extent?;
            let (mut index, end) = (off / BLOCK, (off + len).div_ceil(BLOCK));
            while index < end && index * BLOCK < size {
                let blocks = (end - index).min(RUN / BLOCK);
                let n = (blocks * BLOCK).min(size - index * BLOCK) as usize;
                src.read_exact_at(&mut buf[..n], index * BLOCK)?;
                entries.clear();
                for (i, block) in buf[..n].chunks(BLOCK as usize).enumerate() {
                    // A zero block's entry is zeros, as the manifest's holes read.
                    entries.extend(block_hash(index + i as u64, block).unwrap_or_default());
                }
                out.write_all_at(&entries, index * ENTRY)?;
                index += blocks;
            }
        }
        out.set_len(size.div_ceil(BLOCK) * ENTRY)?;
        out.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let m = Self::open(path)?;
        let root = m.root(size)?;
        Ok((m, root))
    }

    pub fn open(path: &Path) -> io::Result<Self> {
        let file = private_fs::options().read(true).write(true).open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-hashes `blocks` from `image_file` (the export file after a round
    /// patched it) and makes the entries durable.
    pub fn update(&mut self, image_file: &Path, blocks: &[u64]) -> io::Result<()> {
        let src = File::open(image_file)?;
        let size = src.metadata()?.len();
        self.file.set_len(size.div_ceil(BLOCK) * ENTRY)?;
        let mut buf = vec![0u8; BLOCK as usize];
        for &index in blocks {
            let h = read_block_hash(&src, size, index, &mut buf)?.unwrap_or([0; 32]);
            self.file.write_all_at(&h, index * ENTRY)?;
        }
        self.file.sync_all()
    }

    /// The entry of block `index` (`None`: a zero block).
    pub fn entry(&self, index: u64) -> io::Result<Option<[u8; 32]>> {
        let mut h = [0u8; 32];
        match self.file.read_exact_at(&mut h, index * ENTRY) {
            Ok(()) => Ok((h != [0; 32]).then_some(h)),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The whole-image checksum the manifest describes, for an image of `size`.
    pub fn root(&self, size: u64) -> io::Result<String> {
        let mut root = BlocksRoot::default();
        let mut buf = vec![0u8; (ENTRY as usize) << 15];
        for extent in DataExtents::new(&self.file)? {
            let (mut off, len) = extent?;
            off -= off % ENTRY;
            let end = off + len;
            while off < end {
                let n = buf.len().min((end - off) as usize);
                let n = n - n % ENTRY as usize;
                self.file.read_exact_at(&mut buf[..n], off)?;
                for (i, e) in buf[..n].chunks_exact(ENTRY as usize).enumerate() {
                    if e.iter().any(|&b| b != 0) {
                        let h: [u8; 32] = e.try_into().map_err(io::Error::other)?;
                        root.add(off / ENTRY + i as u64, &h);
                    }
                }
                off += n as u64;
            }
        }
        Ok(root.finish(size))
    }
}

/// Block `index` of `file` (of `size` bytes), hashed; `None` when all zeros.
fn read_block_hash(file: &File, size: u64, index: u64, buf: &mut [u8]) -> io::Result<Option<[u8; 32]>> {
    let start = index * BLOCK;
    if start >= size {
        return Ok(None);
    }
    let n = (size - start).min(BLOCK) as usize;
    file.read_exact_at(&mut buf[..n], start)?;
    Ok(block_hash(index, &buf[..n]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sparse_hash::Scheme;

    #[test]
    fn the_manifest_root_equals_the_image_checksum_after_updates() {
        let dir = tempfile::tempdir().expect("tmp");
        let img = dir.path().join("img.raw");
        let size = 9 * BLOCK + 500;
        let f = File::create(&img).expect("create");
        f.set_len(size).expect("len");
        f.write_all_at(b"hello", 3).expect("w");
        f.write_all_at(&[7u8; 100], 4 * BLOCK - 50).expect("w");
        let mpath = BlockManifest::path_for(dir.path(), "vol");
        let (mut m, root) = BlockManifest::build(&mpath, &img).expect("build");
        let hash = |p: &Path| crate::storage::sparse_file::hash_file_with(p, Scheme::Blocks).expect("hash");
        assert_eq!(root, hash(&img));
        // A round: one block zeroed, one written, one partly written.
        f.write_all_at(&[0u8; 5], 3).expect("w");
        f.write_all_at(b"tail", 9 * BLOCK + 10).expect("w");
        f.write_all_at(b"x", 6 * BLOCK).expect("w");
        m.update(&img, &[0, 6, 9]).expect("update");
        assert_eq!(m.root(size).expect("root"), hash(&img));
        assert_eq!(m.entry(0).expect("entry"), None);
        assert!(m.entry(6).expect("entry").is_some());
        let reopened = BlockManifest::open(&mpath).expect("open");
        assert_eq!(reopened.root(size).expect("root"), hash(&img));
    }

    /// `build` reads whole runs of blocks at once: a data extent longer than
    /// a run, zero blocks inside it, and data in the image's last, partial
    /// block give the checksum a block-by-block read gives.
    #[test]
    fn a_manifest_built_in_runs_equals_the_image_checksum() {
        let dir = tempfile::tempdir().expect("tmp");
        let img = dir.path().join("img.raw");
        let blocks = 3 * RUN / BLOCK + 7;
        let size = blocks * BLOCK + 123;
        let f = File::create(&img).expect("create");
        f.set_len(size).expect("len");
        let data: Vec<u8> = (0..(2 * RUN + 3 * BLOCK + 17)).map(|i| (i % 251 + 1) as u8).collect();
        f.write_all_at(&data, 5 * BLOCK + 9).expect("w");
        f.write_all_at(&vec![0u8; 2 * BLOCK as usize], 40 * BLOCK)
            .expect("zeros inside the extent");
        f.write_all_at(b"end", size - 3).expect("w");
        let mpath = BlockManifest::path_for(dir.path(), "runs");
        let (m, root) = BlockManifest::build(&mpath, &img).expect("build");
        let hash = crate::storage::sparse_file::hash_file_with(&img, Scheme::Blocks).expect("hash");
        assert_eq!(root, hash);
        assert_eq!(m.entry(40).expect("entry"), None, "a zero block inside the extent");
        assert!(m.entry(5 + RUN / BLOCK).expect("entry").is_some(), "past the first run");
        assert!(m.entry(blocks).expect("entry").is_some(), "the partial last block");
    }
}

//! A file store's own image files ([`super::FileStore`]: file-backed Cinder
//! such as NFS, and the simulated clouds): written sparse through the page
//! cache, made durable (fsync) and then renamed into place, the directory
//! synced after, as a Ceph import is acknowledged only once stored: a
//! verified copy must survive a crash of this host once its export is
//! deleted, and a sync snapshot is the base the next round's delta is taken
//! from. The simulated clouds' images skip the syncs (their Cinder lives in
//! memory and ends with the process). They carry none of the export file's
//! other costs: no checksum, no direct I/O, no writeback thread. A snapshot
//! is a copy made in the kernel, extent by extent.

use super::rbd_diff::DiffSink;
use super::sparse_file::{partial_path, DataExtents};
use super::sparse_hash::for_each_data_block;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Writes an image to `<path>.partial`; [`ImageFile::commit`] renames it to `path`.
pub struct ImageFile {
    file: File,
    partial: PathBuf,
    path: PathBuf,
    size: u64,
    /// Synced to disk before the rename (all but the simulated clouds').
    durable: bool,
}

impl ImageFile {
    pub fn create(path: &Path, durable: bool) -> io::Result<Self> {
        let partial = partial_path(path);
        Ok(Self {
            file: super::private_fs::create_file(&partial)?,
            partial,
            path: path.to_path_buf(),
            size: 0,
            durable,
        })
    }

    /// Sets the image's size and renames it into place; a durable one is
    /// synced before and its directory after: whole or absent after a crash.
    pub fn commit(self) -> io::Result<()> {
        self.file.set_len(self.size)?;
        if self.durable {
            self.file.sync_all()?;
        }
        std::fs::rename(&self.partial, &self.path)?;
        if let (true, Some(dir)) = (self.durable, self.path.parent()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Removes the partial file (after a failure).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.partial);
    }

    /// A snapshot of the image file `src` at `dest`: its data extents copied
    /// in the kernel (holes stay holes), renamed into place when complete.
    pub fn copy_of(src: &Path, dest: &Path, durable: bool) -> io::Result<()> {
        let from = File::open(src)?;
        let mut to = Self::create(dest, durable)?;
        let copied = (|| {
            to.size = from.metadata()?.len();
            for extent in DataExtents::new(&from)? {
                let (start, len) = extent?;
                let (mut off_in, mut off_out, end) = (start, start, start + len);
                while off_in < end {
                    let left = (end - off_in) as usize;
                    let n = rustix::fs::copy_file_range(&from, Some(&mut off_in), &to.file, Some(&mut off_out), left)?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the image shrank while copied",
                        ));
                    }
                }
            }
            Ok(())
        })();
        match copied {
            Ok(()) => to.commit(),
            Err(e) => {
                to.discard();
                Err(e)
            }
        }
    }
}

impl DiffSink for ImageFile {
    fn size(&mut self, size: u64) -> io::Result<()> {
        self.size = size;
        Ok(())
    }

    /// Writes only the non-zero blocks (aligned to BLOCK within the image).
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        for_each_data_block(offset, data, |abs, chunk| self.file.write_all_at(chunk, abs))?;
        self.size = self.size.max(offset + data.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sparse_file::hash_file;

    #[test]
    fn a_copy_keeps_the_data_and_the_holes_and_appears_only_when_complete() {
        let dir = tempfile::tempdir().expect("tmp");
        let (src, dest) = (dir.path().join("img"), dir.path().join("img@snap"));
        let f = File::create(&src).expect("create");
        f.set_len(64 << 20).expect("len");
        f.write_all_at(&[7u8; 100_000], 3 << 20).expect("w");
        f.write_all_at(b"tail", (64 << 20) - 4).expect("w");
        ImageFile::copy_of(&src, &dest, true).expect("copy");
        assert_eq!(std::fs::read(&src).expect("src"), std::fs::read(&dest).expect("dest"));
        assert_eq!(hash_file(&src).expect("h"), hash_file(&dest).expect("h"));
        // Only the written blocks hold space (ext4: 4 KiB blocks; 100_000 bytes + the tail).
        assert!(crate::storage::sparse_file::allocated_bytes(&dest).expect("du") < 1 << 20);
        assert!(!partial_path(&dest).exists());
    }

    #[test]
    fn written_images_skip_zero_blocks_and_are_renamed_on_commit() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("img");
        let mut w = ImageFile::create(&path, true).expect("create");
        w.size(8 << 20).expect("size");
        w.data(0, &vec![0u8; 4 << 20]).expect("zeros");
        w.data(5 << 20, &[3u8; 10]).expect("data");
        assert!(!path.exists(), "only the partial file exists before commit");
        w.commit().expect("commit");
        let bytes = std::fs::read(&path).expect("read");
        assert_eq!(bytes.len(), 8 << 20);
        assert_eq!(&bytes[5 << 20..(5 << 20) + 10], &[3u8; 10]);
        assert!(bytes[..5 << 20].iter().all(|&b| b == 0));
        assert!(crate::storage::sparse_file::allocated_bytes(&path).expect("du") <= 64 << 10);
    }
}

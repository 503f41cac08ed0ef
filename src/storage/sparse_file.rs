//! Raw image files written sparse (all-zero blocks are never written, so the
//! file's allocation follows the data) and read back by data extent
//! (SEEK_DATA / SEEK_HOLE), so reading costs what the data costs.

use super::direct_run::DirectRun;
use super::rbd_diff::DiffSink;
use super::sparse_hash::{for_each_data_block, Scheme, SparseHasher};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Writes an image to `<path>.partial`; [`SparseWriter::commit`] fsyncs and
/// renames it to `path`, so a half-written export never has the final name.
pub struct SparseWriter {
    /// `None`: no export file is kept (the stream is only hashed).
    file: Option<File>,
    /// The file's bytes, gathered for direct writes (`None`: written through
    /// the page cache, where the file system takes no direct writes).
    direct: Option<DirectRun>,
    partial: PathBuf,
    path: PathBuf,
    hasher: SparseHasher,
    size: u64,
    /// Bytes written since the syncer was last asked to write back.
    dirty: u64,
    syncer: Option<Syncer>,
}

/// Written bytes after which the file is handed to the syncer thread.
const WRITEBACK_EVERY: u64 = 64 << 20;

/// Writes the file back while the export is still streaming, so that the
/// final fsync finds little left to do, and neither dirty nor written-back
/// pages pile up in RAM however large the volume.
struct Syncer {
    tx: SyncSender<()>,
    handle: JoinHandle<io::Result<()>>,
}

impl Syncer {
    fn spawn(file: &File) -> io::Result<Self> {
        let file = file.try_clone()?;
        let (tx, rx) = sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("export-writeback".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    file.sync_data()?;
                    // The pages just written back leave the page cache: an export
                    // larger than free memory would otherwise make every later write
                    // reclaim memory first, on the export's own thread. Advice only.
                    let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed);
                }
                Ok(())
            })?;
        Ok(Self { tx, handle })
    }

    fn stop(self) -> io::Result<()> {
        drop(self.tx);
        self.handle
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writeback thread panicked")))
    }
}

pub fn partial_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

impl SparseWriter {
    pub fn create(path: &Path) -> io::Result<Self> {
        let partial = partial_path(path);
        let file = super::private_fs::create_file(&partial)?;
        Ok(Self {
            direct: DirectRun::open(&partial, &file),
            file: Some(file),
            partial,
            path: path.to_path_buf(),
            hasher: SparseHasher::new(),
            size: 0,
            dirty: 0,
            syncer: None,
        })
    }

    /// Writes no file: only hashes what passes (no staging disk).
    pub fn hash_only() -> Self {
        Self {
            file: None,
            direct: None,
            partial: PathBuf::new(),
            path: PathBuf::new(),
            hasher: SparseHasher::new(),
            size: 0,
            dirty: 0,
            syncer: None,
        }
    }

    /// Whether an export file is written (not [`Self::hash_only`]).
    pub fn keeps_file(&self) -> bool {
        self.file.is_some()
    }

    /// Fsyncs, renames into place, fsyncs the directory; returns the hash.
    pub fn commit(mut self) -> io::Result<String> {
        if let (Some(run), Some(file)) = (&mut self.direct, &self.file) {
            run.flush(file)?;
        }
        if let Some(s) = self.syncer.take() {
            s.stop()?;
        }
        let Some(file) = &self.file else {
            return Ok(self.hasher.finish(self.size));
        };
        file.set_len(self.size)?;
        file.sync_all()?;
        std::fs::rename(&self.partial, &self.path)?;
        if let Some(dir) = self.path.parent() {
            File::open(dir)?.sync_all()?;
        }
        Ok(self.hasher.finish(self.size))
    }

    /// Removes the partial file (after a failure).
    pub fn discard(mut self) {
        if let Some(s) = self.syncer.take() {
            let _ = s.stop();
        }
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

impl DiffSink for SparseWriter {
    fn size(&mut self, size: u64) -> io::Result<()> {
        self.size = size;
        Ok(())
    }

    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.hasher.write_at(offset, data);
        let Some(file) = &self.file else {
            self.size = self.size.max(offset + data.len() as u64);
            return Ok(());
        };
        // Write only the non-zero blocks (aligned to BLOCK within the image).
        let (direct, dirty) = (&mut self.direct, &mut self.dirty);
        for_each_data_block(offset, data, |abs, chunk| {
            match direct {
                Some(run) => {
                    run.put(file, abs, chunk)?;
                    // What went through the page cache (partial pages) is written back as before.
                    *dirty += run.take_cached();
                }
                None => {
                    file.write_all_at(chunk, abs)?;
                    *dirty += chunk.len() as u64;
                }
            }
            Ok(())
        })?;
        self.size = self.size.max(offset + data.len() as u64);
        if self.dirty >= WRITEBACK_EVERY {
            self.dirty = 0;
            if self.syncer.is_none() {
                self.syncer = Some(Syncer::spawn(file)?);
            }
            // Full means a writeback is already pending, which will cover these bytes too.
            if let Some(Err(TrySendError::Disconnected(()))) = self.syncer.as_ref().map(|s| s.tx.try_send(())) {
                // The thread stopped: fdatasync failed, and that is this write's error.
                return self.syncer.take().map_or(Ok(()), Syncer::stop);
            }
        }
        Ok(())
    }
}

/// Only hashes (verification of a new image).
impl DiffSink for SparseHasher {
    fn size(&mut self, _size: u64) -> io::Result<()> {
        Ok(())
    }
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.write_at(offset, data);
        Ok(())
    }
}

/// The data extents `(offset, len)` of a file, found lazily with SEEK_DATA/SEEK_HOLE.
pub struct DataExtents<'a> {
    file: &'a File,
    pos: u64,
    len: u64,
}

impl<'a> DataExtents<'a> {
    pub fn new(file: &'a File) -> io::Result<Self> {
        Ok(Self {
            file,
            pos: 0,
            len: file.metadata()?.len(),
        })
    }
}

impl Iterator for DataExtents<'_> {
    type Item = io::Result<(u64, u64)>;

    fn next(&mut self) -> Option<Self::Item> {
        use rustix::fs::{seek, SeekFrom};
        if self.pos >= self.len {
            return None;
        }
        let start = match seek(self.file, SeekFrom::Data(self.pos)) {
            Ok(s) => s,
            // ENXIO: no data after pos.
            Err(rustix::io::Errno::NXIO) => return None,
            Err(e) => return Some(Err(e.into())),
        };
        let end = match seek(self.file, SeekFrom::Hole(start)) {
            Ok(e) => e.min(self.len),
            Err(e) => return Some(Err(e.into())),
        };
        self.pos = end;
        (end > start).then_some(Ok((start, end - start)))
    }
}

/// Hashes a file (sparse or not), reading only its data extents.
pub fn hash_file(path: &Path) -> io::Result<String> {
    hash_file_with(path, Scheme::CURRENT)
}

/// [`hash_file`] in a given scheme (an export an earlier version hashed).
pub fn hash_file_with(path: &Path, scheme: Scheme) -> io::Result<String> {
    hash_file_until(path, scheme, &CancellationToken::new())
}

/// [`hash_file_with`], given up between two 1 MiB reads once `cancel` is
/// cancelled (`ErrorKind::Interrupted`): a re-read of a large export file
/// does not hold up an operator's cancel.
pub fn hash_file_until(path: &Path, scheme: Scheme, cancel: &CancellationToken) -> io::Result<String> {
    let file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut hasher = SparseHasher::with_scheme(scheme);
    let mut buf = vec![0u8; 1 << 20];
    for extent in DataExtents::new(&file)? {
        let (mut off, len) = extent?;
        let end = off + len;
        while off < end {
            if cancel.is_cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
            let n = buf.len().min((end - off) as usize);
            file.read_exact_at(&mut buf[..n], off)?;
            hasher.write_at(off, &buf[..n]);
            off += n as u64;
        }
    }
    Ok(hasher.finish(size))
}

/// Bytes actually allocated on disk.
pub fn allocated_bytes(path: &Path) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)?.blocks() * 512)
}

/// Streams the non-zero 64 KiB blocks of `file` as a diff into `out`.
pub(super) fn write_extents(
    file: &std::fs::File,
    size: u64,
    out: std::fs::File,
    counter: &std::sync::atomic::AtomicU64,
) -> std::io::Result<u64> {
    let mut w = super::rbd_diff::DiffWriter::new(std::io::BufWriter::with_capacity(1 << 20, out), size)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut sent = 0u64;
    for extent in DataExtents::new(file)? {
        let (mut off, len) = extent?;
        let end = off + len;
        while off < end {
            let n = buf.len().min((end - off) as usize);
            file.read_exact_at(&mut buf[..n], off)?;
            // Send runs of non-zero blocks; zeros inside an extent are skipped too.
            for (at, run) in super::sparse_hash::data_runs(off, &buf[..n]) {
                w.data(at, run)?;
                sent += run.len() as u64;
            }
            counter.store(sent, std::sync::atomic::Ordering::Relaxed);
            off += n as u64;
        }
    }
    std::io::Write::flush(&mut w.finish()?)?;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rbd_diff::{read_diff, DiffWriter};

    #[test]
    fn written_sparse_and_hashed_the_same_either_way() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("img");
        let size = 64u64 << 20;
        let mut stream = DiffWriter::new(Vec::new(), size).expect("w");
        stream.data(0, &vec![0u8; 1 << 20]).expect("zeros written as data");
        stream.data(3 << 20, &vec![9u8; 300_001]).expect("w");
        let stream = stream.finish().expect("f");
        let mut w = SparseWriter::create(&path).expect("create");
        read_diff(stream.as_slice(), &mut w, &mut vec![0u8; 65536]).expect("read");
        assert!(partial_path(&path).exists() && !path.exists(), "partial until commit");
        let hash = w.commit().expect("commit");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a tenant's disk is for the operator only");
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), size);
        assert!(allocated_bytes(&path).expect("alloc") < 2 << 20, "zeros not allocated");
        assert_eq!(hash_file(&path).expect("hash"), hash);
        let full = std::fs::read(&path).expect("read");
        let mut h = SparseHasher::new();
        h.write_at(0, &full);
        assert_eq!(h.finish(size), hash, "a full read hashes the same");
    }

    #[test]
    fn a_cancelled_re_read_stops_with_interrupted() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("img");
        std::fs::write(&path, vec![7u8; 3 << 20]).expect("write");
        let cancel = CancellationToken::new();
        let whole = hash_file_until(&path, Scheme::CURRENT, &cancel).expect("not cancelled");
        assert_eq!(whole, hash_file(&path).expect("hash"));
        cancel.cancel();
        let e = hash_file_until(&path, Scheme::CURRENT, &cancel).expect_err("cancelled");
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
    }
}

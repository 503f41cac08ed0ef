//! Export-file writes that bypass the page cache (`O_DIRECT`).
//!
//! Written through the page cache, 1 GiB of export cost this machine
//! 1.5-4 CPU-s (copying into cache pages, dirty accounting, writeback, then
//! dropping the pages again); the same bytes written with `O_DIRECT` in
//! 1 MiB pieces cost 0.5-0.8 (`dd`, docs/decisions.md). A [`DirectRun`]
//! gathers a contiguous run of the export's bytes in one page-aligned buffer
//! and writes its page-aligned middle in one direct write; the run's partial
//! first and last pages (a record that starts or ends inside a page) go
//! through the ordinary descriptor, so no page is ever half-written directly.
//! Where the file system refuses direct I/O, every write goes the ordinary way.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Offsets, lengths and buffer addresses of direct writes are multiples of this.
const ALIGN: usize = 4096;
/// Bytes gathered before a direct write (one write per MiB measured cheapest).
const CAPACITY: usize = 1 << 20;

pub struct DirectRun {
    direct: File,
    /// `CAPACITY + ALIGN` bytes; `buf[base..]` starts on an aligned address.
    buf: Vec<u8>,
    /// `buf[base]` holds file offset `first` rounded down to `ALIGN`.
    base: usize,
    /// The run's bytes are file offsets `first..end`.
    first: u64,
    end: u64,
    /// Bytes written directly so far.
    direct_bytes: u64,
    /// Bytes written through the page cache since [`Self::take_cached`].
    cached: u64,
}

impl DirectRun {
    /// A second descriptor on `path` (which `file` has open), opened for
    /// direct writes; `None` where the file system does not support them, or
    /// where `path` is no longer `file`.
    pub fn open(path: &Path, file: &File) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let direct = super::private_fs::options()
            .write(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(path)
            .ok()?;
        let (a, b) = (direct.metadata().ok()?, file.metadata().ok()?);
        if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
            return None;
        }
        let buf = vec![0u8; CAPACITY + ALIGN];
        let base = buf.as_ptr().align_offset(ALIGN);
        (base < ALIGN).then_some(Self {
            direct,
            buf,
            base,
            first: 0,
            end: 0,
            direct_bytes: 0,
            cached: 0,
        })
    }

    /// Adds `data` at `offset` to the run, writing the run first where
    /// `data` does not continue it. `file` is the ordinary descriptor.
    pub fn put(&mut self, file: &File, mut offset: u64, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            if self.first == self.end || offset != self.end {
                self.flush(file)?;
                self.first = offset;
                self.end = offset;
            }
            let into = self.at(self.end);
            let at = into - self.base;
            let n = (CAPACITY - at).min(data.len());
            self.buf[into..into + n].copy_from_slice(&data[..n]);
            self.end += n as u64;
            offset += n as u64;
            data = &data[n..];
            if at + n == CAPACITY {
                // Full, and its end is aligned: the next bytes start a new run there.
                self.flush(file)?;
            }
        }
        Ok(())
    }

    /// Writes what the run holds; the run is then empty.
    pub fn flush(&mut self, file: &File) -> io::Result<()> {
        let (first, end) = (self.first, self.end);
        let align = ALIGN as u64;
        // The whole pages inside the run (none where it lies within one page).
        let mid_start = (first.div_ceil(align) * align).min(end);
        let mid_end = (end - end % align).max(mid_start);
        self.cached_write(file, first, mid_start)?;
        if mid_start < mid_end {
            let middle = &self.buf[self.at(mid_start)..self.at(mid_end)];
            match self.direct.write_at(middle, mid_start) {
                Ok(n) if n == middle.len() => self.direct_bytes += n as u64,
                // Short, or refused (EINVAL: this file system wants another
                // alignment): the ordinary way, for this run's bytes.
                Ok(_) | Err(_) => self.cached_write(file, mid_start, mid_end)?,
            }
        }
        self.cached_write(file, mid_end, end)?;
        self.first = end;
        Ok(())
    }

    /// Bytes written through the page cache since the last call (for the
    /// caller's writeback).
    pub fn take_cached(&mut self) -> u64 {
        std::mem::take(&mut self.cached)
    }

    /// Index in `buf` of file offset `offset` of the run.
    fn at(&self, offset: u64) -> usize {
        self.base + (offset - (self.first - self.first % ALIGN as u64)) as usize
    }

    fn cached_write(&mut self, file: &File, from: u64, to: u64) -> io::Result<()> {
        if from == to {
            return Ok(());
        }
        file.write_all_at(&self.buf[self.at(from)..self.at(to)], from)?;
        self.cached += to - from;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes that differ from page to page and from piece to piece, never zero
    /// (a zero byte would look like a hole).
    fn bytes(piece: usize, off: u64, n: usize) -> Vec<u8> {
        (0..n as u64)
            .map(|k| {
                let at = off + k;
                ((at / 4096 * 131 + at * 7 + piece as u64 * 13) % 255 + 1) as u8
            })
            .collect()
    }

    /// Writes pieces through a run and through plain positional writes, and
    /// compares the two files byte for byte. `refuse`: the direct descriptor
    /// cannot write (the ordinary way must take every byte).
    fn same_as_plain(pieces: &[(u64, usize)], refuse: bool) -> u64 {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (dir.path().join("direct"), dir.path().join("plain"));
        let fa = super::super::private_fs::create_file(&a).expect("a");
        let fb = super::super::private_fs::create_file(&b).expect("b");
        let mut run = DirectRun::open(&a, &fa).expect("this file system takes direct writes");
        if refuse {
            run.direct = File::open(&a).expect("read-only");
        }
        for (i, &(off, n)) in pieces.iter().enumerate() {
            let data = bytes(i, off, n);
            run.put(&fa, off, &data).expect("put");
            fb.write_all_at(&data, off).expect("plain");
        }
        run.flush(&fa).expect("flush");
        assert_eq!(
            std::fs::read(&a).expect("a"),
            std::fs::read(&b).expect("b"),
            "{pieces:?}"
        );
        assert_eq!(
            run.direct_bytes + run.take_cached(),
            pieces.iter().map(|p| p.1 as u64).sum::<u64>()
        );
        run.direct_bytes
    }

    #[test]
    fn aligned_unaligned_contiguous_and_gapped_pieces_land_as_plain_writes_put_them() {
        // Contiguous 64 KiB pieces crossing the 1 MiB capacity.
        let direct = same_as_plain(&(0..40).map(|i| (i * 65536, 65536)).collect::<Vec<_>>(), false);
        assert_eq!(direct, 40 * 65536, "every byte of an aligned run went directly");
        // Unaligned start and end, inside one page and across pages.
        let unaligned = [(100, 10), (5000, 9000), (14000, 3 << 20), (20 << 20, 1)];
        let direct = same_as_plain(&unaligned, false);
        assert!(
            direct > (3 << 20) - 2 * ALIGN as u64,
            "the middle of an unaligned run went directly: {direct}"
        );
        // A run that starts mid-page and fills the buffer exactly, then goes on.
        let start = 4096 * 3 + 17;
        same_as_plain(&[(start, CAPACITY - 17), (4096 * 3 + CAPACITY as u64, 5000)], false);
        // Pieces that continue a run whose last page was partly written.
        same_as_plain(&[(0, 4000), (4000, 200), (4200, 70000), (1 << 20, 4096)], false);
        // A piece that goes back over bytes already written: the later bytes win.
        same_as_plain(&[(0, 3 << 20), (8192, 70000)], false);
    }

    #[test]
    fn refused_direct_writes_are_made_the_ordinary_way() {
        let direct = same_as_plain(&[(0, 3 << 20), (5000, 9000), (40 << 20, 2 << 20)], true);
        assert_eq!(direct, 0);
    }
}

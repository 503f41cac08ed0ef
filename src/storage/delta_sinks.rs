//! The two ends of a warm-sync round's stream. [`DeltaPatch`] applies what
//! changed between two source snapshots to the export file and forwards it
//! to the new image; [`ReadbackCheck`] compares what the new image says
//! changed in that round with the export file, byte for byte.

use super::rbd_diff::{DiffSink, DiffWriter};
use super::sparse_hash::{is_zero, BLOCK};
use super::stall_writer::StallWriter;
use super::Extents;
use rustix::fs::{fallocate, FallocateFlags};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter};
use std::os::unix::fs::FileExt;

/// Where a round's changes go besides the export file.
pub(super) enum DeltaOut {
    /// `rbd import-diff -` on the new cluster (creates the to-snapshot at its end).
    /// Taken (finished, and the pipe closed) at the stream's end.
    Rbd(Option<DiffWriter<BufWriter<StallWriter>>>),
    /// A file store's image file, written in place.
    File(File),
}

pub(super) struct DeltaPatch {
    pub file: File,
    pub out: DeltaOut,
    pub expected_size: u64,
    /// Data bytes applied.
    pub bytes: u64,
    /// Bytes zeroed over data the copy held (a discard on the source).
    pub zeroed: u64,
    /// Zeros (as data or as zero records) where the copy already held zeros (skipped).
    pub unchanged: u64,
    /// 64 KiB blocks whose content may have changed.
    pub blocks: BTreeSet<u64>,
    /// What the new image must report as changed in this round.
    pub must_cover: Extents,
    /// Where the export file held data when the round began.
    file_data: Extents,
    /// Where the target may differ from the export file (an earlier try).
    dirty: Extents,
    /// Zeroed in both, in offset order among the records, and not sought in
    /// the read-back (`stray_objects.rs`; the redo's full verify covers
    /// them); `stray_next` is the first not yet zeroed or passed.
    strays: Extents,
    stray_next: usize,
    buf: Vec<u8>,
}

impl DeltaPatch {
    pub fn new(file: File, out: DeltaOut, expected_size: u64) -> io::Result<Self> {
        Ok(Self {
            file_data: Extents::data_of(&file)?,
            dirty: Extents::default(),
            strays: Extents::default(),
            stray_next: 0,
            file,
            out,
            expected_size,
            bytes: 0,
            zeroed: 0,
            unchanged: 0,
            blocks: BTreeSet::new(),
            must_cover: Extents::default(),
            buf: vec![0; BLOCK as usize],
        })
    }

    /// Marks where an earlier try of the round may have written to the
    /// target: the copy is not known to hold zeros there.
    pub fn dirty(mut self, dirty: Extents) -> Self {
        self.dirty = dirty;
        self
    }

    /// Marks objects of the copy the source has none of: zeroed in the
    /// export file and the target where no record of the stream covers them.
    pub fn strays(mut self, strays: Extents) -> Self {
        self.strays = strays;
        self
    }

    /// Whether the copy holds zeros at `[at, at + n)`: the export file does,
    /// and the target is not dirty there. A hole the file had when the round
    /// began is not read.
    fn copy_is_zero(&mut self, at: u64, n: usize) -> io::Result<bool> {
        if self.dirty.overlaps(at, n as u64) {
            return Ok(false);
        }
        if !self.file_data.overlaps(at, n as u64) && !self.blocks.contains(&(at / BLOCK)) {
            return Ok(true);
        }
        self.file.read_exact_at(&mut self.buf[..n], at)?;
        Ok(is_zero(&self.buf[..n]))
    }

    fn apply(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)?;
        match &mut self.out {
            DeltaOut::Rbd(w) => writer(w)?.data(offset, data)?,
            DeltaOut::File(f) => f.write_all_at(data, offset)?,
        }
        self.bytes += data.len() as u64;
        self.touch(offset, data.len() as u64);
        self.must_cover.push(offset, data.len() as u64);
        Ok(())
    }

    /// What the round applied, once its stream has ended.
    pub fn applied(self, read_back: Option<u64>) -> super::DeltaApplied {
        super::DeltaApplied {
            bytes: self.bytes,
            zeroed: self.zeroed,
            unchanged: self.unchanged,
            blocks: self.blocks.into_iter().collect(),
            must_cover: self.must_cover,
            read_back,
            snap_drop: None,
        }
    }

    /// Zeros over data: punched in the file, zeroed in the new image.
    fn zero_data(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.must_cover.push(offset, len);
        self.zero_unsought(offset, len)
    }

    /// Before a record at `[at, end)`: the strays below `at` zeroed, those
    /// below `end` passed (the record writes them), so the stream stays in
    /// offset order.
    fn strays_below(&mut self, at: u64, end: u64) -> io::Result<()> {
        while let Some(&(o, l)) = self.strays.0.get(self.stray_next) {
            if o >= end {
                break;
            }
            if o < at {
                self.zero_unsought(o, (o + l).min(at) - o)?;
            }
            if o + l > end {
                self.strays.0[self.stray_next] = (end, o + l - end);
                break;
            }
            self.stray_next += 1;
        }
        Ok(())
    }

    fn zero_unsought(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.touch(offset, len);
        punch(&self.file, offset, len)?;
        match &mut self.out {
            DeltaOut::Rbd(w) => writer(w)?.zero(offset, len)?,
            DeltaOut::File(f) => punch(f, offset, len)?,
        }
        self.zeroed += len;
        Ok(())
    }

    fn touch(&mut self, offset: u64, len: u64) {
        self.blocks.extend(offset / BLOCK..(offset + len).div_ceil(BLOCK));
    }
}

fn punch(file: &File, offset: u64, len: u64) -> io::Result<()> {
    fallocate(
        file,
        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
        offset,
        len,
    )
    .map_err(io::Error::from)
}

impl DiffSink for DeltaPatch {
    fn size(&mut self, size: u64) -> io::Result<()> {
        if size != self.expected_size {
            return Err(io::Error::other(format!(
                "the source image is now {size} bytes, it was {} when the sync started: it was resized, so this copy cannot be brought up to date; finish the resize, then migrate it afresh",
                self.expected_size
            )));
        }
        Ok(())
    }

    /// `rbd export-diff` reports an object created since the from-snapshot
    /// from its start to its last write, zeros included: a 64 KiB write into a
    /// new 4 MiB object arrives as up to 4 MiB. Zeros where the copy already
    /// holds zeros change nothing, so they are neither written nor forwarded.
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.strays_below(offset, offset + data.len() as u64)?;
        let mut done = 0usize;
        while done < data.len() {
            let at = offset + done as u64;
            let n = ((BLOCK - at % BLOCK) as usize).min(data.len() - done);
            let piece = &data[done..done + n];
            done += n;
            if is_zero(piece) && self.copy_is_zero(at, n)? {
                self.unchanged += n as u64;
                continue;
            }
            self.apply(at, piece)?;
        }
        Ok(())
    }

    /// Only pieces where the copy holds data change anything: those are
    /// zeroed in the file and the new image, and must be seen to change;
    /// zeros over zeros are counted and skipped, as for `data`.
    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.strays_below(offset, offset + len)?;
        let end = (offset + len).min(self.expected_size);
        let (mut pos, mut run) = (offset, None::<(u64, u64)>);
        while pos < end {
            let n = (BLOCK - pos % BLOCK).min(end - pos);
            if self.copy_is_zero(pos, n as usize)? {
                self.unchanged += n;
            } else {
                run = match run {
                    Some((o, l)) if o + l == pos => Some((o, l + n)),
                    other => {
                        if let Some((o, l)) = other {
                            self.zero_data(o, l)?;
                        }
                        Some((pos, n))
                    }
                };
            }
            pos += n;
        }
        if let Some((o, l)) = run {
            self.zero_data(o, l)?;
        }
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        self.strays_below(self.expected_size, self.expected_size)?;
        if let DeltaOut::Rbd(w) = &mut self.out {
            if let Some(w) = w.take() {
                w.finish()?;
            }
        }
        Ok(())
    }
}

fn writer<W>(w: &mut Option<W>) -> io::Result<&mut W> {
    w.as_mut()
        .ok_or_else(|| io::Error::other("data after the end of the stream"))
}

/// Compares a read-back delta with the export file; remembers what it saw.
pub(super) struct ReadbackCheck {
    pub file: File,
    pub seen: Extents,
    pub bytes: u64,
    /// A difference was found (the stream's error says where).
    pub differs: bool,
    /// Where the export file holds data: zeros read back over its holes are
    /// compared without reading it.
    file_data: Extents,
    buf: Vec<u8>,
}

impl ReadbackCheck {
    /// For a read-back that runs while the round still writes `file`: every
    /// range read back is compared with the file, holes included.
    pub fn concurrent(file: File) -> Self {
        Self {
            file_data: Extents(vec![(0, u64::MAX)]),
            file,
            seen: Extents::default(),
            bytes: 0,
            differs: false,
            buf: vec![0; 1 << 20],
        }
    }

    pub fn new(file: File) -> io::Result<Self> {
        Ok(Self {
            file_data: Extents::data_of(&file)?,
            file,
            seen: Extents::default(),
            bytes: 0,
            differs: false,
            buf: vec![0; 1 << 20],
        })
    }
}

fn differs(offset: u64) -> io::Error {
    io::Error::other(format!(
        "the new image differs from the export at byte {offset} after this round"
    ))
}

impl DiffSink for ReadbackCheck {
    fn size(&mut self, _size: u64) -> io::Result<()> {
        Ok(())
    }

    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut done = 0usize;
        while done < data.len() {
            let n = (data.len() - done).min(self.buf.len());
            let at = offset + done as u64;
            let got = &data[done..done + n];
            done += n;
            if !self.file_data.overlaps(at, n as u64) && is_zero(got) {
                continue;
            }
            self.file.read_exact_at(&mut self.buf[..n], at)?;
            if self.buf[..n] != *got {
                let i = (0..n).find(|&i| self.buf[i] != got[i]).unwrap_or(0);
                self.differs = true;
                return Err(differs(at + i as u64));
            }
        }
        self.bytes += data.len() as u64;
        self.seen.push(offset, data.len() as u64);
        Ok(())
    }

    fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let mut pos = offset;
        while pos < offset + len {
            let n = (offset + len - pos).min(self.buf.len() as u64) as usize;
            if self.file_data.overlaps(pos, n as u64) {
                self.file.read_exact_at(&mut self.buf[..n], pos)?;
                if !is_zero(&self.buf[..n]) {
                    let i = self.buf[..n].iter().position(|&b| b != 0).unwrap_or(0);
                    self.differs = true;
                    return Err(differs(pos + i as u64));
                }
            }
            pos += n as u64;
        }
        self.bytes += len;
        self.seen.push(offset, len);
        Ok(())
    }
}

#[cfg(test)]
#[path = "delta_sinks_tests.rs"]
mod tests;

//! The `rbd export-diff` / `import-diff` stream, format v1: a header line, then
//! tagged records (`s` size, `w` data at an offset, `z` zeros, `f`/`t` snap
//! names, `e` end), little-endian. Reading it gives only the allocated
//! extents of an image, which is why a sparse volume costs what its data costs.

use super::pipe_forward::PipeForward;
use std::io::{self, Read, Write};
use std::os::fd::BorrowedFd;

pub const HEADER: &[u8] = b"rbd diff v1\n";

/// Receives what a diff stream holds, in increasing offset order.
pub trait DiffSink {
    fn size(&mut self, size: u64) -> io::Result<()>;
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// A range that reads as zeros (discarded or zeroed). A full export of a
    /// fresh image may ignore it; a delta onto an older copy must apply it.
    fn zero(&mut self, _offset: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }
    /// The stream's end record arrived: nothing more will come.
    fn end(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// The stage fed with each data record as it is read (by tee(2) where
    /// the stream comes from a pipe), if this sink has one.
    fn forward(&mut self) -> Option<&mut PipeForward> {
        None
    }
    /// The forward failed (the stage's writer died, or took no data for its
    /// stall limit): the sink drops it and says whether reading goes on.
    fn forward_failed(&mut self, e: io::Error) -> io::Result<()> {
        Err(e)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("not an rbd diff v1 stream")]
    BadHeader,
    #[error("diff stream ended before its end record (the producer died?)")]
    Truncated,
    #[error("unknown diff record tag {0:#04x}")]
    BadTag(u8),
    #[error("diff extents go backwards ({offset} after {previous})")]
    OutOfOrder { offset: u64, previous: u64 },
    #[error("diff record at {offset} of {len} bytes ends past any image")]
    Overflow { offset: u64, len: u64 },
    #[error("{0}")]
    Io(#[from] io::Error),
}

fn read_exact_or_truncated<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<(), DiffError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => DiffError::Truncated,
        _ => DiffError::Io(e),
    })
}

fn u64_le<R: Read>(r: &mut R) -> Result<u64, DiffError> {
    let mut b = [0u8; 8];
    read_exact_or_truncated(r, &mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads a whole diff stream into `sink`, `buf.len()` bytes at a time.
/// Returns the image size and the data bytes seen.
pub fn read_diff<R: Read, S: DiffSink>(r: R, sink: &mut S, buf: &mut [u8]) -> Result<(u64, u64), DiffError> {
    read_diff_piped(r, None, sink, buf)
}

/// [`read_diff`] where `r` reads the pipe `pipe` unbuffered: the sink's
/// forward, if it has one, gets each data record's bytes by tee(2) from the
/// pipe before they are read (else it is sent the bytes read).
pub fn read_diff_piped<R: Read, S: DiffSink>(
    mut r: R,
    pipe: Option<BorrowedFd<'_>>,
    sink: &mut S,
    buf: &mut [u8],
) -> Result<(u64, u64), DiffError> {
    let mut header = [0u8; HEADER.len()];
    read_exact_or_truncated(&mut r, &mut header)?;
    if header != HEADER {
        return Err(DiffError::BadHeader);
    }
    let (mut size, mut data_bytes, mut previous) = (0u64, 0u64, 0u64);
    loop {
        let mut tag = [0u8; 1];
        read_exact_or_truncated(&mut r, &mut tag)?;
        match tag[0] {
            b'e' => {
                sink.end()?;
                return Ok((size, data_bytes));
            }
            b'f' | b't' => {
                let mut len = [0u8; 4];
                read_exact_or_truncated(&mut r, &mut len)?;
                io::copy(&mut (&mut r).take(u64::from(u32::from_le_bytes(len))), &mut io::sink())?;
            }
            b's' => {
                size = u64_le(&mut r)?;
                sink.size(size)?;
            }
            b'z' => {
                let (offset, len) = (u64_le(&mut r)?, u64_le(&mut r)?);
                // In order, as data records: what a read-back must cover is kept merged.
                if offset < previous {
                    return Err(DiffError::OutOfOrder { offset, previous });
                }
                sink.zero(offset, len)?;
                previous = offset.checked_add(len).ok_or(DiffError::Overflow { offset, len })?;
            }
            b'w' => {
                let (offset, len) = (u64_le(&mut r)?, u64_le(&mut r)?);
                if offset < previous {
                    return Err(DiffError::OutOfOrder { offset, previous });
                }
                offset.checked_add(len).ok_or(DiffError::Overflow { offset, len })?;
                if let Some(Err(e)) = sink.forward().map(|f| f.record(offset, len)) {
                    sink.forward_failed(e)?;
                }
                let mut done = 0u64;
                while done < len {
                    let n = chunk_len(offset + done, len - done, buf.len());
                    let (mut got, teed) = (0, pipe.is_some() && sink.forward().is_some());
                    while got < n {
                        // tee(2) takes what the pipe holds: the chunk is filled in parts.
                        let tee = match (pipe, sink.forward()) {
                            (Some(p), Some(f)) => Some(f.tee_from(p, n - got)),
                            _ => None,
                        };
                        let k = match tee {
                            Some(Ok(0)) => return Err(DiffError::Truncated),
                            Some(Ok(k)) => k,
                            Some(Err(e)) => sink.forward_failed(e).map(|()| n - got)?,
                            None => n - got,
                        };
                        read_exact_or_truncated(&mut r, &mut buf[got..got + k])?;
                        got += k;
                    }
                    if let Some(Err(e)) = sink.forward().filter(|_| !teed).map(|f| f.data(&buf[..n])) {
                        sink.forward_failed(e)?;
                    }
                    sink.data(offset + done, &buf[..n])?;
                    done += n as u64;
                }
                previous = offset + len;
                data_bytes += len;
            }
            other => return Err(DiffError::BadTag(other)),
        }
    }
}

/// The next chunk of a data record at `pos` with `left` bytes to go: at most
/// `cap`, and ending on a 64 KiB boundary (absolute) unless it ends the
/// record. A piece of a record (its part of one 64 KiB block) then lies in
/// one chunk: the sink judges it whole (zeros or data, its hash), as a stage
/// writer fed the record itself does.
fn chunk_len(pos: u64, left: u64, cap: usize) -> usize {
    use super::sparse_hash::BLOCK;
    if left <= cap as u64 {
        return left as usize;
    }
    match (pos + cap as u64) / BLOCK * BLOCK {
        end if end > pos => (end - pos) as usize,
        _ => cap,
    }
}

/// Writes a diff stream: the header, the size, then `w` records from `extents`.
pub struct DiffWriter<W: Write> {
    w: W,
}

impl<W: Write> DiffWriter<W> {
    pub fn new(mut w: W, size: u64) -> io::Result<Self> {
        w.write_all(HEADER)?;
        w.write_all(b"s")?;
        w.write_all(&size.to_le_bytes())?;
        Ok(Self { w })
    }

    /// A delta from snapshot `from` that ends by creating snapshot `to` (if
    /// any) on the image it is applied to (`rbd import-diff` checks `from`
    /// is there).
    pub fn delta(mut w: W, from: &str, to: Option<&str>, size: u64) -> io::Result<Self> {
        w.write_all(HEADER)?;
        for (tag, name) in [(b"f", Some(from)), (b"t", to)] {
            let Some(name) = name else { continue };
            w.write_all(tag)?;
            w.write_all(&(name.len() as u32).to_le_bytes())?;
            w.write_all(name.as_bytes())?;
        }
        w.write_all(b"s")?;
        w.write_all(&size.to_le_bytes())?;
        Ok(Self { w })
    }

    pub fn zero(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.w.write_all(b"z")?;
        self.w.write_all(&offset.to_le_bytes())?;
        self.w.write_all(&len.to_le_bytes())
    }

    pub fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.w.write_all(b"w")?;
        self.w.write_all(&offset.to_le_bytes())?;
        self.w.write_all(&(data.len() as u64).to_le_bytes())?;
        self.w.write_all(data)
    }

    /// The writer, with no end record written.
    pub fn into_inner(self) -> W {
        self.w
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.w.write_all(b"e")?;
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        size: u64,
        writes: Vec<(u64, Vec<u8>)>,
    }

    impl DiffSink for Collect {
        fn size(&mut self, size: u64) -> io::Result<()> {
            self.size = size;
            Ok(())
        }
        fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            self.writes.push((offset, data.to_vec()));
            Ok(())
        }
    }

    fn stream() -> Vec<u8> {
        let mut w = DiffWriter::new(Vec::new(), 1 << 30).expect("w");
        w.data(4096, b"hello").expect("w");
        w.data(1 << 20, &[7u8; 10]).expect("w");
        w.finish().expect("finish")
    }

    #[test]
    fn round_trip_in_small_chunks() {
        let mut c = Collect::default();
        let mut buf = [0u8; 4];
        let (size, bytes) = read_diff(stream().as_slice(), &mut c, &mut buf).expect("read");
        assert_eq!((size, bytes, c.size), (1 << 30, 15, 1 << 30));
        assert_eq!(c.writes[0], (4096, b"hell".to_vec()));
        assert_eq!(c.writes[1], (4100, b"o".to_vec()));
        assert_eq!(c.writes.last().map(|w| w.0), Some((1 << 20) + 8));
    }

    #[test]
    fn snap_and_zero_records_are_skipped() {
        let mut s = HEADER.to_vec();
        s.extend(b"t");
        s.extend(4u32.to_le_bytes());
        s.extend(b"snap");
        s.extend(b"s");
        s.extend(100u64.to_le_bytes());
        s.extend(b"z");
        s.extend(0u64.to_le_bytes());
        s.extend(50u64.to_le_bytes());
        s.extend(b"e");
        let mut c = Collect::default();
        assert_eq!(read_diff(s.as_slice(), &mut c, &mut [0u8; 8]).expect("read"), (100, 0));
    }

    #[test]
    fn a_cut_stream_is_truncated_not_success() {
        let full = stream();
        for cut in 0..full.len() {
            let mut c = Collect::default();
            let r = read_diff(&full[..cut], &mut c, &mut [0u8; 16]);
            assert!(matches!(r, Err(DiffError::Truncated)), "cut at {cut}: {r:?}");
        }
        let mut bad = full.clone();
        bad[0] = b'x';
        assert!(matches!(
            read_diff(bad.as_slice(), &mut Collect::default(), &mut [0u8; 16]),
            Err(DiffError::BadHeader)
        ));
    }

    /// A zero record before an earlier data record's end is refused as a data
    /// record is: a read-back's coverage is kept from records in order.
    #[test]
    fn a_zero_record_out_of_order_is_refused() {
        let mut s = HEADER.to_vec();
        s.extend(b"s");
        s.extend((4u64 << 20).to_le_bytes());
        s.extend(b"w");
        s.extend((1u64 << 20).to_le_bytes());
        s.extend(4u64.to_le_bytes());
        s.extend(b"data");
        s.extend(b"z");
        s.extend(0u64.to_le_bytes());
        s.extend(50u64.to_le_bytes());
        s.extend(b"e");
        let r = read_diff(s.as_slice(), &mut Collect::default(), &mut [0u8; 8]);
        assert!(matches!(r, Err(DiffError::OutOfOrder { offset: 0, .. })), "{r:?}");
    }
}

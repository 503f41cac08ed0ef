//! A cold export's stage is verified by comparison: its writer
//! (`assets/rbd_stage_readback.py`, reply `compare`) reads each extent back
//! once its write is acknowledged and compares the bytes read with the bytes
//! written, then confirms that record with a `c` record (offset, length).
//! The bytes read back no longer cross a pipe to be hashed here: that cost
//! a copy each way and a BLAKE3 pass over the whole copy.
//!
//! The [`Tee`] hashes every byte into the export's checksum and sends the
//! same bytes to the stage; a [`RecordTrail`] of what was sent (each
//! record's offset and length, in order) must equal the trail of what the
//! writer confirmed. So every record sent was written, read back from the
//! new cluster and found equal to the bytes the writer took from its pipe.
//! Unlike the hash this replaces, the comparison is the writer's: a writer
//! that misparsed a record's bytes but not its offset and length would
//! compare its own mistake with itself (decisions.md says what that trusts).
//!
//! [`Tee`]: super::stage_writer::Tee

use std::io::{BufReader, Read};

const HEADER: &[u8] = b"rbd diff v1\n";

/// Records in order: each one's offset and length, digested, with their
/// count and bytes.
#[derive(Debug, Clone, Default)]
pub struct RecordTrail {
    /// Boxed: the hasher is 2 KiB, and the export's futures carry the trail.
    hasher: Box<blake3::Hasher>,
    records: u64,
    bytes: u64,
}

/// A [`RecordTrail`], finished: two are equal only for the same records in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub records: u64,
    pub bytes: u64,
    digest: [u8; 32],
}

impl RecordTrail {
    pub fn push(&mut self, offset: u64, len: u64) {
        self.hasher.update(&offset.to_le_bytes());
        self.hasher.update(&len.to_le_bytes());
        self.records += 1;
        self.bytes += len;
    }

    pub fn seal(&self) -> Sealed {
        Sealed {
            records: self.records,
            bytes: self.bytes,
            digest: *self.hasher.finalize().as_bytes(),
        }
    }
}

/// The writer's reply in compare mode, to its end record: the header, the
/// size, then `c` records. Anything else, or a reply cut short, is an error.
pub fn read_confirmations(from: impl Read) -> Result<Sealed, String> {
    let mut r = BufReader::with_capacity(64 << 10, from);
    let mut exact = |n: usize| -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; n];
        r.read_exact(&mut buf)
            .map_err(|e| format!("the writer's reply ended early: {e}"))?;
        Ok(buf)
    };
    if exact(HEADER.len())? != HEADER {
        return Err("the writer's reply is not an rbd diff v1 stream".into());
    }
    let mut trail = RecordTrail::default();
    loop {
        match exact(1)?[0] {
            b's' => drop(exact(8)?),
            b'c' => {
                let rec = exact(16)?;
                let (offset, len) = rec.split_at(8);
                trail.push(le(offset), le(len));
            }
            b'e' => return Ok(trail.seal()),
            other => return Err(format!("unexpected record {other:#04x} in the writer's reply")),
        }
    }
}

/// Whether the writer's confirmations are the records sent; why not, if not.
pub fn judge(seen: &Sealed, sent: &Sealed) -> Result<(), String> {
    if seen == sent {
        return Ok(());
    }
    let moved = (seen.records, seen.bytes) == (sent.records, sent.bytes);
    Err(format!(
        "the staging writer confirmed {} records ({} bytes) read back equal, but {} records ({} bytes) were sent{}",
        seen.records,
        seen.bytes,
        sent.records,
        sent.bytes,
        if moved { ", in other places or order" } else { "" }
    ))
}

fn le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(records: &[(u64, u64)], end: bool) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        out.push(b's');
        out.extend((8u64 << 20).to_le_bytes());
        for (o, n) in records {
            out.push(b'c');
            out.extend(o.to_le_bytes());
            out.extend(n.to_le_bytes());
        }
        if end {
            out.push(b'e');
        }
        out
    }

    fn trail(records: &[(u64, u64)]) -> Sealed {
        let mut t = RecordTrail::default();
        records.iter().for_each(|&(o, n)| t.push(o, n));
        t.seal()
    }

    /// The confirmations of exactly the records sent seal as the records sent.
    #[test]
    fn confirming_every_record_in_order_matches_what_was_sent() {
        let sent = [(0, 1 << 20), (1 << 20, 4096), (3 << 20, 65536)];
        let got = read_confirmations(&reply(&sent, true)[..]).expect("reply");
        assert_eq!(got, trail(&sent));
        assert_eq!((got.records, got.bytes), (3, (1 << 20) + 4096 + 65536));
    }

    /// A record missing, one more, another order, or another length is not what was sent.
    #[test]
    fn any_other_trail_differs() {
        let sent = [(0, 1 << 20), (1 << 20, 4096), (3 << 20, 65536)];
        for other in [
            &[(0, 1 << 20), (1 << 20, 4096)][..],
            &[(0, 1 << 20), (1 << 20, 4096), (3 << 20, 65536), (4 << 20, 1)],
            &[(1 << 20, 4096), (0, 1 << 20), (3 << 20, 65536)],
            &[(0, 1 << 20), (1 << 20, 4095), (3 << 20, 65537)],
            &[(0, 1 << 20), (1 << 20, 4096), (3 << 20 | 4096, 65536)],
        ] {
            let got = read_confirmations(&reply(other, true)[..]).expect("reply");
            assert_ne!(got, trail(&sent), "{other:?}");
        }
    }

    /// Only the very records sent pass; a confirmation missing or moved says so.
    #[test]
    fn only_the_records_sent_are_judged_confirmed() {
        let sent = trail(&[(0, 1 << 20), (1 << 20, 4096)]);
        assert_eq!(judge(&trail(&[(0, 1 << 20), (1 << 20, 4096)]), &sent), Ok(()));
        let e = judge(&trail(&[(0, 1 << 20)]), &sent).expect_err("one missing");
        assert!(
            e.contains("confirmed 1 records (1048576 bytes)") && e.contains("but 2 records"),
            "{e}"
        );
        let e = judge(&trail(&[(0, 1 << 20), (2 << 20, 4096)]), &sent).expect_err("moved");
        assert!(e.ends_with("in other places or order"), "{e}");
    }

    /// A reply cut short, with data bytes, or with no header is an error, never a trail.
    #[test]
    fn a_short_or_foreign_reply_is_an_error() {
        let full = reply(&[(0, 4096)], true);
        let e = read_confirmations(&full[..full.len() - 1]).expect_err("no end");
        assert!(e.contains("ended early"), "{e}");
        let mut bytes = reply(&[], false);
        bytes.push(b'w');
        let e = read_confirmations(&bytes[..]).expect_err("w");
        assert!(e.contains("unexpected record 0x77"), "{e}");
        let e = read_confirmations(&b"rbd diff v2\n"[..]).expect_err("header");
        assert!(e.contains("not an rbd diff v1"), "{e}");
    }
}

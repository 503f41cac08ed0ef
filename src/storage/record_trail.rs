//! A cold export's stage is verified by the new cluster's own checksums:
//! its writer (`assets/rbd_stage_readback.py`, reply `checksum`) asks, once
//! a record's write is acknowledged, the OSDs that store it for the
//! xxHash64 of each of its pieces (64 KiB on absolute offsets; a record's
//! first and last may be shorter), computed from what they read from their
//! store, and sends each piece's offset, length and hash on as a `k`
//! record. The bytes read back no longer cross the network and two pipes
//! to be compared: that cost the new cluster's OSD the sending, and the
//! writer and stackmigrate a copy and a pass each.
//!
//! The [`Tee`] hashes every byte into the export's checksum and sends the
//! same bytes to the stage; a [`RecordTrail`] of what was sent (each
//! piece's offset, length and xxHash64, in order) must equal the trail of
//! what the new cluster hashed. So every piece sent was written, read by
//! the new cluster after its write was acknowledged, and found to hold the
//! very bytes this process hashed into the export's checksum. The writer
//! only relays the OSDs' answers: it never sees a hash of what was sent.
//!
//! [`Tee`]: super::tee::Tee

use std::io::{BufReader, Read};
use xxhash_rust::xxh64::xxh64;

const HEADER: &[u8] = b"rbd diff v1\n";
/// The pieces hashed, on absolute offsets (the writer's `PIECE`).
const PIECE: u64 = 64 << 10;

/// Pieces in order: each one's offset, length and hash, digested, with
/// their count and bytes.
#[derive(Debug, Clone, Default)]
pub struct RecordTrail {
    /// Boxed: the hasher is 2 KiB, and the export's futures carry the trail.
    hasher: Box<blake3::Hasher>,
    pieces: u64,
    bytes: u64,
    /// Nothing will be compared with it (the stage is not read back by
    /// checksums): pieces are not hashed.
    off: bool,
}

/// A [`RecordTrail`], finished: two are equal only for the same pieces, hashes and order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub pieces: u64,
    pub bytes: u64,
    digest: [u8; 32],
}

impl RecordTrail {
    /// A trail nothing will be compared with: [`Self::push`] does nothing.
    pub fn off() -> Self {
        Self {
            off: true,
            ..Self::default()
        }
    }

    /// Whether pieces are hashed (not [`Self::off`]).
    pub fn kept(&self) -> bool {
        !self.off
    }

    /// A record sent: its pieces, each hashed as the new cluster hashes it.
    pub fn push(&mut self, offset: u64, data: &[u8]) {
        if self.off {
            return;
        }
        let mut at = 0usize;
        while at < data.len() {
            let pos = offset + at as u64;
            let n = ((PIECE - pos % PIECE) as usize).min(data.len() - at);
            self.push_hashed(pos, n as u64, xxh64(&data[at..at + n], 0));
            at += n;
        }
    }

    /// A piece and its hash.
    pub fn push_hashed(&mut self, offset: u64, len: u64, hash: u64) {
        let mut rec = [0u8; 24];
        rec[..8].copy_from_slice(&offset.to_le_bytes());
        rec[8..16].copy_from_slice(&len.to_le_bytes());
        rec[16..].copy_from_slice(&hash.to_le_bytes());
        self.hasher.update(&rec);
        self.pieces += 1;
        self.bytes += len;
    }

    pub fn seal(&self) -> Sealed {
        Sealed {
            pieces: self.pieces,
            bytes: self.bytes,
            digest: *self.hasher.finalize().as_bytes(),
        }
    }
}

/// The writer's reply in checksum mode, to its end record: the header, the
/// size, then `k` records. Anything else, or a reply cut short, is an error.
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
            b'k' => {
                let rec = exact(24)?;
                trail.push_hashed(le(&rec[..8]), le(&rec[8..16]), le(&rec[16..]));
            }
            b'e' => return Ok(trail.seal()),
            other => return Err(format!("unexpected record {other:#04x} in the writer's reply")),
        }
    }
}

/// Whether the new cluster's hashes are those of the pieces sent; why not, if not.
pub fn judge(seen: &Sealed, sent: &Sealed) -> Result<(), String> {
    if seen == sent {
        return Ok(());
    }
    let same = (seen.pieces, seen.bytes) == (sent.pieces, sent.bytes);
    Err(format!(
        "the new cluster hashed {} pieces ({} bytes) of the staging image, against {} pieces ({} bytes) sent{}",
        seen.pieces,
        seen.bytes,
        sent.pieces,
        sent.bytes,
        if same {
            ", and their hashes or places differ: the copy (or the writer's reply) is not what was sent"
        } else {
            ""
        }
    ))
}

fn le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

#[cfg(test)]
#[path = "record_trail_tests.rs"]
mod tests;

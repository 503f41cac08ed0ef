use super::*;

/// A writer's reply: header, size, one `k` record per piece, end.
fn reply(pieces: &[(u64, u64, u64)], end: bool) -> Vec<u8> {
    let mut out = HEADER.to_vec();
    out.push(b's');
    out.extend((8u64 << 20).to_le_bytes());
    for (o, n, h) in pieces {
        out.push(b'k');
        out.extend(o.to_le_bytes());
        out.extend(n.to_le_bytes());
        out.extend(h.to_le_bytes());
    }
    if end {
        out.push(b'e');
    }
    out
}

fn sent(records: &[(u64, &[u8])]) -> Sealed {
    let mut t = RecordTrail::default();
    records.iter().for_each(|&(o, d)| t.push(o, d));
    t.seal()
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

/// A record is cut into 64 KiB pieces on absolute offsets, each hashed with
/// xxHash64, seed 0: the reply of the pieces of exactly those bytes seals
/// as what was sent.
#[test]
fn the_pieces_of_what_was_sent_on_absolute_offsets_match() {
    let a = bytes(200 << 10, 1);
    let b = bytes(4096, 2);
    // 200 KiB from 100 KiB: 28 KiB to 128 KiB, two whole pieces, 44 KiB.
    let o = 100 << 10;
    let cuts = [
        (o, 28 << 10),
        (128 << 10, 64 << 10),
        (192 << 10, 64 << 10),
        (256 << 10, 44 << 10),
    ];
    let mut pieces: Vec<(u64, u64, u64)> = Vec::new();
    let mut at = 0usize;
    for (off, n) in cuts {
        pieces.push((off, n, xxh64(&a[at..at + n as usize], 0)));
        at += n as usize;
    }
    pieces.push((1 << 20, 4096, xxh64(&b, 0)));
    let got = read_confirmations(&reply(&pieces, true)[..]).expect("reply");
    let want = sent(&[(o, &a), (1 << 20, &b)]);
    assert_eq!(got, want);
    assert_eq!((got.pieces, got.bytes), (5, (200 << 10) + 4096));
}

/// The hash is xxHash64 with seed 0, as librados's checksum op computes it
/// with a zero init value (known answers; the datapath tests ask the OSDs).
#[test]
fn the_hash_is_xxhash64_with_seed_zero() {
    assert_eq!(xxh64(b"", 0), 0xef46_db37_51d8_e999);
    assert_eq!(xxh64(b"abc", 0), 0x44bc_2cf5_ad77_0999);
    let mut t = RecordTrail::default();
    t.push(0, b"abc");
    let mut u = RecordTrail::default();
    u.push_hashed(0, 3, 0x44bc_2cf5_ad77_0999);
    assert_eq!(t.seal(), u.seal());
}

/// A piece missing, one more, another order, other bytes or another length is not what was sent.
#[test]
fn any_other_trail_differs() {
    let a = bytes(64 << 10, 1);
    let b = bytes(4096, 2);
    let want = sent(&[(0, &a), (1 << 20, &b)]);
    let (ha, hb) = (xxh64(&a, 0), xxh64(&b, 0));
    let mut flipped = b.clone();
    flipped[100] ^= 1;
    for other in [
        vec![(0, 65536, ha)],
        vec![(0, 65536, ha), (1 << 20, 4096, hb), (2 << 20, 1, 0)],
        vec![(1 << 20, 4096, hb), (0, 65536, ha)],
        vec![(0, 65536, ha), (1 << 20, 4096, xxh64(&flipped, 0))],
        vec![(0, 65536, ha), (2 << 20, 4096, hb)],
        vec![(0, 65536, ha), (1 << 20, 4095, hb)],
    ] {
        let got = read_confirmations(&reply(&other, true)[..]).expect("reply");
        assert_ne!(got, want, "{other:?}");
    }
}

/// Only the very pieces sent pass; a piece missing or its bytes changed says so.
#[test]
fn only_the_pieces_sent_are_judged_held() {
    let a = bytes(64 << 10, 1);
    let b = bytes(4096, 2);
    let want = sent(&[(0, &a), (1 << 20, &b)]);
    assert_eq!(judge(&sent(&[(0, &a), (1 << 20, &b)]), &want), Ok(()));
    let e = judge(&sent(&[(0, &a)]), &want).expect_err("one missing");
    assert!(
        e.contains("hashed 1 pieces (65536 bytes)") && e.contains("against 2 pieces (69632 bytes)"),
        "{e}"
    );
    let mut changed = b.clone();
    changed[0] ^= 0x80;
    let e = judge(&sent(&[(0, &a), (1 << 20, &changed)]), &want).expect_err("changed");
    assert!(
        e.ends_with("the copy (or the writer's reply) is not what was sent"),
        "{e}"
    );
}

/// A reply cut short, with data bytes, or with no header is an error, never a trail.
#[test]
fn a_short_or_foreign_reply_is_an_error() {
    let full = reply(&[(0, 4096, 1)], true);
    let e = read_confirmations(&full[..full.len() - 1]).expect_err("no end");
    assert!(e.contains("ended early"), "{e}");
    let mut bytes = reply(&[], false);
    bytes.push(b'c');
    let e = read_confirmations(&bytes[..]).expect_err("c");
    assert!(e.contains("unexpected record 0x63"), "{e}");
    let e = read_confirmations(&b"rbd diff v2\n"[..]).expect_err("header");
    assert!(e.contains("not an rbd diff v1"), "{e}");
}

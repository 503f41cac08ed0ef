//! Tests of the sparse checksum schemes.

use super::*;

fn hash_of(image: &[u8]) -> String {
    hash_in(Scheme::CURRENT, image)
}

fn hash_in(scheme: Scheme, image: &[u8]) -> String {
    let mut h = SparseHasher::with_scheme(scheme);
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
    // Whole aligned blocks skip the block buffer; a block may also arrive
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

/// The collision the v1 encoding allowed (issue 10, item 9): 0xAA at 0
/// and 0xBB at 64 KiB feed v1 the bytes `0, AA, 1, BB, size`; so does
/// `AA 01 00..00 BB` at offset 0 (the 00s are the rest of block 1's index).
#[test]
fn the_v1_collision_is_gone_in_v2() {
    let size = 2 * BLOCK as usize;
    let mut a = vec![0u8; size];
    a[0] = 0xAA;
    a[BLOCK as usize] = 0xBB;
    let mut b = vec![0u8; size];
    b[0] = 0xAA;
    b[1..9].copy_from_slice(&1u64.to_le_bytes());
    b[9] = 0xBB;
    assert_ne!(a, b);
    assert_eq!(hash_in(Scheme::V1, &a), hash_in(Scheme::V1, &b), "v1 collides");
    assert_ne!(hash_in(Scheme::V2, &a), hash_in(Scheme::V2, &b), "v2 tells them apart");
    assert_eq!(Scheme::CURRENT, Scheme::V2);
    assert_ne!(hash_of(&a), hash_of(&b));
}

#[test]
fn a_checksum_names_its_scheme() {
    let image = [1u8, 2, 3];
    let v1 = hash_in(Scheme::V1, &image);
    let v2 = hash_in(Scheme::V2, &image);
    assert_eq!(Scheme::of(&v1), Some(Scheme::V1));
    assert_eq!(Scheme::of(&v2), Some(Scheme::V2));
    assert!(v2.starts_with("blake3-sparse-64k-v2:"));
    assert_eq!(digest(&v2).len(), 64);
    assert_eq!(digest(&v1), v1);
    assert_ne!(digest(&v2), v1, "another hasher, not the old digest relabelled");
    assert_eq!(Scheme::of("blake3-sparse-64k-v3:00"), None);
    assert_eq!(Scheme::of("not a checksum"), None);
}

/// A checksum an earlier version wrote into a journal still verifies:
/// this is v1 of `[1, 2, 3]` as that version computed it.
#[test]
fn earlier_versions_checksums_still_verify() {
    let mut h = blake3::Hasher::new();
    h.update(&0u64.to_le_bytes());
    h.update(&[1, 2, 3]);
    h.update(&3u64.to_le_bytes());
    assert_eq!(hash_in(Scheme::V1, &[1, 2, 3]), h.finalize().to_hex().to_string());
}

#[test]
fn the_blocks_scheme_is_the_same_from_a_stream_and_from_block_hashes() {
    let mut image = vec![0u8; 5 * BLOCK as usize + 123];
    image[10] = 1;
    image[3 * BLOCK as usize + 77] = 9;
    image[5 * BLOCK as usize + 100] = 4;
    let streamed = hash_in(Scheme::Blocks, &image);
    let mut root = BlocksRoot::default();
    for (i, block) in image.chunks(BLOCK as usize).enumerate() {
        if let Some(h) = block_hash(i as u64, block) {
            root.add(i as u64, &h);
        }
    }
    assert_eq!(streamed, root.finish(image.len() as u64));
    assert_eq!(Scheme::of(&streamed), Some(Scheme::Blocks));
    assert_ne!(digest(&streamed), hash_in(Scheme::V2, &image));
    // Moving a byte to another block changes it.
    image[10] = 0;
    image[BLOCK as usize + 10] = 1;
    assert_ne!(hash_in(Scheme::Blocks, &image), streamed);
}

/// A fresh image needs only the blocks that are not zeros: runs of them,
/// cut on absolute block offsets, whatever the data's own start and end.
#[test]
fn data_runs_leave_out_zero_blocks_on_absolute_offsets() {
    let b = BLOCK as usize;
    let mut d = vec![0u8; 5 * b];
    d[10] = 1; // block 0 (starts mid-block at offset 100)
    d[2 * b] = 2; // block 2 (absolute 2 * BLOCK + 100)
    d[3 * b - 101] = 3; // block 2's last byte
    d[4 * b + 7] = 4; // block 4; blocks 1, 3 and the piece of 5 are zero
    let runs = data_runs(100, &d);
    let at = |r: &(u64, &[u8])| (r.0, r.1.len());
    let bs = b as u64;
    assert_eq!(
        runs.iter().map(at).collect::<Vec<_>>(),
        vec![(100, b - 100), (2 * bs, b), (4 * bs, b)],
        "blocks 1 and 3 and the piece of block 5 (zero) are left out"
    );
    assert_eq!(runs[0].1[10], 1);
    assert!(data_runs(0, &vec![0u8; 3 * b]).is_empty(), "all zeros: nothing");
    let dense = vec![9u8; 3 * b + 5];
    assert_eq!(
        data_runs(7, &dense).iter().map(at).collect::<Vec<_>>(),
        vec![(7, 3 * b + 5)]
    );
}

/// The schemes as defined, one block at a time into BLAKE3: what the hasher
/// must still give when it gathers blocks before hashing them (`STAGE`).
fn by_definition(scheme: Scheme, image: &[u8]) -> String {
    let mut h = match scheme {
        Scheme::V1 => blake3::Hasher::new(),
        _ => blake3::Hasher::new_derive_key(V2_CONTEXT),
    };
    let mut root = BlocksRoot::default();
    for (i, block) in image.chunks(BLOCK as usize).enumerate() {
        let Some(last) = block.iter().rposition(|&b| b != 0) else {
            continue;
        };
        let mut b = blake3::Hasher::new_derive_key(BLOCK_CONTEXT);
        for part in [
            &(i as u64).to_le_bytes()[..],
            &(last as u64 + 1).to_le_bytes(),
            &block[..=last],
        ] {
            b.update(part);
        }
        root.add(i as u64, b.finalize().as_bytes());
        h.update(&(i as u64).to_le_bytes());
        if scheme == Scheme::V2 {
            h.update(&(last as u64 + 1).to_le_bytes());
        }
        h.update(&block[..=last]);
    }
    h.update(&(image.len() as u64).to_le_bytes());
    match scheme {
        Scheme::V1 => h.finalize().to_hex().to_string(),
        Scheme::V2 => format!("{V2_PREFIX}{}", h.finalize().to_hex()),
        Scheme::Blocks => root.finish(image.len() as u64),
    }
}

#[test]
fn gathered_blocks_hash_as_the_schemes_define() {
    // Over 3 MiB of image (about 2.4 MiB of framed data: two full stages and
    // a part), with zero blocks, trimmed blocks and a short tail.
    let mut image = vec![0u8; 3 * STAGE + 5 * BLOCK as usize + 4321];
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for (i, b) in image.iter_mut().enumerate() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let block = i / BLOCK as usize;
        let within = i % BLOCK as usize;
        *b = match block % 5 {
            0 => 0,
            1 if within > 40_000 => 0,
            _ => x as u8,
        };
    }
    for scheme in [Scheme::V1, Scheme::V2, Scheme::Blocks] {
        let want = by_definition(scheme, &image);
        assert_eq!(hash_in(scheme, &image), want, "{scheme:?}, one write");
        let mut h = SparseHasher::with_scheme(scheme);
        for (i, chunk) in image.chunks(77_777).enumerate() {
            h.write_at(i as u64 * 77_777, chunk);
        }
        // The stage is handed on as it fills: it never grows past one stage and a block.
        assert!(
            h.stage.capacity() <= STAGE + 16 + BLOCK as usize,
            "{scheme:?}: stage grew"
        );
        assert_eq!(h.finish(image.len() as u64), want, "{scheme:?}, odd writes");
    }
}

/// The digests journals and reports already hold: a change to any scheme's
/// framing, key or order fails here, whatever the code computes it with.
#[test]
fn the_schemes_digests_are_pinned() {
    let mut image = vec![0u8; 3 * BLOCK as usize + 100];
    image[5] = 1;
    image[BLOCK as usize + 7..BLOCK as usize + 12].copy_from_slice(b"stack");
    image[3 * BLOCK as usize + 99] = 0xff;
    for (scheme, want) in [
        (
            Scheme::V1,
            "335c0d06d1e8285653876d8c2bf3b6138502a9c1acd3543d2ff533f0cf36caa3",
        ),
        (
            Scheme::V2,
            "blake3-sparse-64k-v2:83bf4b25fd7f960341dc52a1105a36d4df4ab51ef6c858bbc5feaad1896cea12",
        ),
        (
            Scheme::Blocks,
            "blake3-blocks-64k-v1:b8b0ccd7c7687a2ab6f2356db544044fb0d56c7a6e204aa4939807ecc29739d1",
        ),
    ] {
        assert_eq!(hash_in(scheme, &image), want, "{scheme:?}");
    }
}

//! The staging writer in checksum mode (`assets/rados_checksums.py`, then
//! `assets/rbd_stage_readback.py`), on the new cluster: once a record's
//! write is acknowledged, each of its 64 KiB pieces (on absolute offsets)
//! is hashed by the OSD that stores it, and the writer relays the hashes,
//! in order. stackmigrate checks they are the xxHash64 of the bytes it sent
//! (`src/storage/record_trail.rs`); these tests check the cluster's answers
//! are exactly those, wherever librbd put the pieces, and that they are
//! computed from what the cluster holds.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Stdio};
use xxhash_rust::xxh64::xxh64;

const CHECKSUMS: &str = include_str!("../../assets/rados_checksums.py");
const WRITER: &str = include_str!("../../assets/rbd_stage_readback.py");
const SIZE: u64 = 8 << 20;
const PIECE: u64 = 64 << 10;

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + i / 251) as u8) ^ seed).collect()
}

fn stream(records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut s = b"rbd diff v1\n".to_vec();
    s.push(b's');
    s.extend(SIZE.to_le_bytes());
    for (offset, data) in records {
        s.push(b'w');
        s.extend(offset.to_le_bytes());
        s.extend((data.len() as u64).to_le_bytes());
        s.extend(data);
    }
    s.push(b'e');
    s
}

/// The reply a writer owes for `records`: one `k` per piece, hashed here.
fn expected(records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut want = b"rbd diff v1\ns".to_vec();
    want.extend(SIZE.to_le_bytes());
    for (offset, data) in records {
        let mut at = 0u64;
        while at < data.len() as u64 {
            let pos = offset + at;
            let n = (PIECE - pos % PIECE).min(data.len() as u64 - at);
            want.push(b'k');
            want.extend(pos.to_le_bytes());
            want.extend(n.to_le_bytes());
            want.extend(xxh64(&data[at as usize..(at + n) as usize], 0).to_le_bytes());
            at += n;
        }
    }
    want.push(b'e');
    want
}

fn create(conf: &str, layout: &[&str]) -> String {
    let image = unique("checksum").replace(' ', "-");
    let made = rbd(conf)
        .args(["create", "--size", "8M"])
        .args(layout)
        .arg(format!("volumes/{image}"))
        .output()
        .expect("rbd create");
    assert!(made.status.success(), "{}", text(&made.stderr));
    image
}

fn remove(conf: &str, image: &str) {
    let removed = rbd(conf)
        .args(["rm", "--no-progress", &format!("volumes/{image}")])
        .output();
    assert!(removed.expect("rbd rm").status.success());
}

/// The writer in checksum mode into `image` on the new cluster, as the stage starts it.
fn writer(tb: &Testbed, image: &str) -> Command {
    let (conf, keyring) = (tb.var("NEW_CEPH_CONF"), tb.var("NEW_CEPH_KEYRING"));
    let mut c = Command::new("/usr/bin/python3");
    c.args([
        "-c",
        &format!("{CHECKSUMS}{WRITER}"),
        &conf,
        "admin",
        &keyring,
        "15",
        "volumes",
    ])
    .args([image, "33554432", "-", "-", "checksum"]);
    c
}

/// Runs the writer in checksum mode on a fresh image made with `layout`;
/// its exit, stdout and stderr, and the image's sha256 read with `rbd export`.
fn write_and_hash(tb: &Testbed, layout: &[&str], records: &[(u64, Vec<u8>)]) -> (bool, Vec<u8>, String) {
    let conf = tb.var("NEW_CEPH_CONF");
    let image = create(&conf, layout);
    let mut input = tempfile::tempfile().expect("tmp");
    input.write_all(&stream(records)).expect("write the stream");
    input.seek(SeekFrom::Start(0)).expect("seek");
    let out = writer(tb, &image).stdin(Stdio::from(input)).output().expect("python3");
    // What landed, read independently: the records over zeros.
    let mut want = vec![0u8; SIZE as usize];
    for (o, d) in records {
        want[*o as usize..*o as usize + d.len()].copy_from_slice(d);
    }
    let got = rbd(&conf)
        .args(["export", "--no-progress", &format!("volumes/{image}"), "-"])
        .output()
        .expect("rbd export");
    assert!(got.stdout == want, "the image holds the records written");
    remove(&conf, &image);
    (out.status.success(), out.stdout, text(&out.stderr))
}

fn records() -> Vec<(u64, Vec<u8>)> {
    vec![
        (0, pattern(64 << 10, 1)),
        // 200 KiB from 100 KiB: pieces of 28, 64, 64 and 44 KiB.
        (100 << 10, pattern(200 << 10, 2)),
        (1 << 20, pattern(4096, 3)),
        // Across the first object's end (4 MiB objects), ending inside a piece.
        ((3 << 20) + 4096, pattern((1 << 20) + 8192, 4)),
        // The image's last piece.
        ((8 << 20) - 65536, pattern(65536, 5)),
    ]
}

#[test]
fn each_piece_is_hashed_by_the_new_cluster_in_order() {
    let tb = Testbed::get();
    let recs = records();
    let (ok, out, err) = write_and_hash(&tb, &[], &recs);
    assert!(ok, "{err}");
    assert_eq!(out, expected(&recs), "one k record per piece, in order, and the end");
}

/// Striped (64 KiB units over 4 objects of 256 KiB: 8 object sets): the
/// writer asks each piece's own object, and the hashes are the same.
#[test]
fn a_striped_image_is_hashed_where_librbd_put_each_piece() {
    let tb = Testbed::get();
    let layout = ["--object-size", "256K", "--stripe-unit", "64K", "--stripe-count", "4"];
    let recs = records();
    let (ok, out, err) = write_and_hash(&tb, &layout, &recs);
    assert!(ok, "{err}");
    assert_eq!(out, expected(&recs));
}

/// A stripe unit its pieces would cross fails the writer before it writes,
/// saying why (stackmigrate shows that line where the stage breaks).
#[test]
fn a_stripe_unit_below_a_piece_fails_the_writer_and_says_why() {
    let tb = Testbed::get();
    let conf = tb.var("NEW_CEPH_CONF");
    let layout = ["--object-size", "64K", "--stripe-unit", "16K", "--stripe-count", "2"];
    let image = create(&conf, &layout);
    let out = writer(&tb, &image).stdin(Stdio::null()).output().expect("python3");
    remove(&conf, &image);
    let said = text(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("stripe unit 16384 is not a multiple of 65536"), "{said}");
}

/// The hashes come from what the cluster holds: a byte changed behind the
/// writer's back changes its piece's hash, and only that one.
#[test]
fn the_hashes_are_computed_from_what_the_cluster_holds() {
    let tb = Testbed::get();
    let conf = tb.var("NEW_CEPH_CONF");
    let image = create(&conf, &[]);
    let mut data = pattern(128 << 10, 5);
    write_regions(&conf, &image, SIZE, &[(0, data.clone())]);
    let ask = || {
        let harness = format!(
            "{CHECKSUMS}\nclass Failed(Exception):\n    pass\n\nimport rados, rbd\n\
             c = rados.Rados(conffile={conf:?}, rados_id='admin'); c.connect()\n\
             s = Checksums({conf:?}, 'admin', {{}})\n\
             with rbd.Image(c.open_ioctx('volumes'), {image:?}) as img:\n    s.ready(img)\n    \
             print(' '.join('%x' % h for _, _, h in s.ask(0, 131072)))\n\
             s.close(); c.shutdown()\n"
        );
        let out = Command::new("/usr/bin/python3")
            .args(["-c", &harness])
            .output()
            .expect("python3");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    };
    let hex = |d: &[u8]| format!("{:x}", xxh64(d, 0));
    let before = ask();
    assert_eq!(before, format!("{} {}", hex(&data[..65536]), hex(&data[65536..])));
    data[70000] ^= 0x40;
    write_regions(&conf, &image, SIZE, &[(70000, data[70000..70001].to_vec())]);
    let after = ask();
    assert_eq!(after, format!("{} {}", hex(&data[..65536]), hex(&data[65536..])));
    assert_ne!(after, before);
    remove(&conf, &image);
}

//! The staging writer in compare mode (`assets/rbd_stage_readback.py`), on
//! the new cluster: each record is confirmed only once the bytes read back
//! equal the bytes written, and a record whose extent reads back otherwise
//! fails the stage, naming the offset. A second write to the same extent,
//! sent before the first's read-back, is what makes the first read differ.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use std::io::{Seek, SeekFrom, Write};
use std::process::{Command, Stdio};

const SIZE: u64 = 4 << 20;

fn stream(records: &[(u64, u8)]) -> Vec<u8> {
    let mut s = b"rbd diff v1\n".to_vec();
    s.push(b's');
    s.extend(SIZE.to_le_bytes());
    for &(offset, byte) in records {
        s.push(b'w');
        s.extend(offset.to_le_bytes());
        s.extend(65536u64.to_le_bytes());
        s.extend(vec![byte; 65536]);
    }
    s.push(b'e');
    s
}

/// Runs the writer in compare mode on a fresh image with `records` (64 KiB
/// each, filled with one byte); its exit, stdout and stderr.
fn write_and_compare(tb: &Testbed, records: &[(u64, u8)]) -> (bool, Vec<u8>, String) {
    let conf = tb.var("NEW_CEPH_CONF");
    let image = unique("compare").replace(' ', "-");
    let made = rbd(&conf)
        .args(["create", "--size", "4M", &format!("volumes/{image}")])
        .output()
        .expect("rbd create");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let script = include_str!("../../assets/rbd_stage_readback.py");
    let keyring = tb.var("NEW_CEPH_KEYRING");
    // From a file: the writer reads each record at once, so a second write
    // to an extent goes out before the first one's read-back.
    let mut input = tempfile::tempfile().expect("tmp");
    input.write_all(&stream(records)).expect("write the stream");
    input.seek(SeekFrom::Start(0)).expect("seek");
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script, &conf, "admin", &keyring, "15", "volumes", &image])
        .args(["33554432", "-", "-", "compare"])
        .stdin(Stdio::from(input))
        .output()
        .expect("python3");
    let removed = rbd(&conf)
        .args(["rm", "--no-progress", &format!("volumes/{image}")])
        .output();
    assert!(removed.expect("rbd rm").status.success());
    (out.status.success(), out.stdout, text(&out.stderr))
}

#[test]
fn every_record_read_back_equal_is_confirmed_in_order() {
    let tb = Testbed::get();
    let (ok, out, err) = write_and_compare(&tb, &[(0, 1), (65536, 2), (1 << 20, 3)]);
    assert!(ok, "{err}");
    let mut want = b"rbd diff v1\ns".to_vec();
    want.extend(SIZE.to_le_bytes());
    for offset in [0u64, 65536, 1 << 20] {
        want.push(b'c');
        want.extend(offset.to_le_bytes());
        want.extend(65536u64.to_le_bytes());
    }
    want.push(b'e');
    assert_eq!(out, want, "one c record per record, in order, and the end");
}

#[test]
fn an_extent_that_reads_back_otherwise_fails_the_stage_and_names_it() {
    let tb = Testbed::get();
    // The second write to offset 0 lands before the first one's read-back.
    let (ok, out, err) = write_and_compare(&tb, &[(0, 1), (0, 2)]);
    assert!(!ok, "a difference must fail the writer: {err}");
    assert!(
        err.contains("read back at 0: the 65536 bytes read differ from those written"),
        "{err}"
    );
    assert!(!out.ends_with(b"e"), "no end record after a difference");
}

//! Tests of the round's two stream ends.

use super::*;

/// `p` opened for reading and writing.
fn rw(p: &std::path::Path) -> File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .expect("open")
}

#[test]
fn zeros_over_zeros_are_skipped_and_zeros_over_data_applied() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fp, tp) = (dir.path().join("export"), dir.path().join("target"));
    let size = 4 * BLOCK;
    for p in [&fp, &tp] {
        let f = File::create(p).expect("create");
        f.set_len(size).expect("len");
        f.write_all_at(&[7u8; 10], BLOCK + 5).expect("w");
    }
    let mut patch = DeltaPatch::new(rw(&fp), DeltaOut::File(rw(&tp)), size).expect("patch");
    patch.size(size).expect("size");
    // An object "created since": zeros, then data, as rbd reports it.
    let mut data = vec![0u8; 3 * BLOCK as usize];
    data[2 * BLOCK as usize + 1] = 9;
    patch.data(0, &data).expect("data");
    assert_eq!((patch.bytes, patch.unchanged), (2 * BLOCK, BLOCK));
    assert_eq!(patch.blocks.iter().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(patch.must_cover.0, vec![(BLOCK, 2 * BLOCK)]);
    for p in [&fp, &tp] {
        let mut b = vec![0u8; size as usize];
        File::open(p).expect("open").read_exact_at(&mut b, 0).expect("read");
        assert_eq!(b, [data.clone(), vec![0u8; BLOCK as usize]].concat(), "{}", p.display());
    }
    // Zero records: only the piece over data is applied and must be seen.
    patch.zero(0, 4 * BLOCK).expect("zero");
    // Block 1 now holds zeros (written above), block 2 data.
    assert_eq!((patch.zeroed, patch.unchanged), (BLOCK, 4 * BLOCK));
    assert_eq!(patch.must_cover.0, vec![(BLOCK, 2 * BLOCK)]);
    let mut b = vec![0u8; size as usize];
    File::open(&tp).expect("open").read_exact_at(&mut b, 0).expect("read");
    assert!(is_zero(&b), "the target was zeroed where it held data");
    assert!(patch.size(size + 1).is_err(), "a resized source is refused");
}

/// A try of the round cut short may have written to the target where the
/// export file now holds zeros (the file punched, the target not yet): there
/// the round's zeros are written, not skipped as zeros over zeros.
#[test]
fn zeros_are_written_where_an_earlier_try_may_have_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let (fp, tp) = (dir.path().join("export"), dir.path().join("target"));
    let size = 4 * BLOCK;
    for p in [&fp, &tp] {
        File::create(p).expect("create").set_len(size).expect("len");
    }
    // What the cut-short try left in the target only.
    let t = std::fs::OpenOptions::new().write(true).open(&tp).expect("open");
    t.write_all_at(&[3u8; 10], BLOCK + 7).expect("w");
    t.write_all_at(&[4u8; 10], 3 * BLOCK).expect("w");
    let mut dirty = Extents::default();
    dirty.push(BLOCK, BLOCK);
    dirty.push(3 * BLOCK, BLOCK);
    let mut patch = DeltaPatch::new(rw(&fp), DeltaOut::File(rw(&tp)), size)
        .expect("patch")
        .dirty(dirty);
    patch.size(size).expect("size");
    patch.data(0, &vec![0u8; 2 * BLOCK as usize]).expect("data");
    patch.zero(2 * BLOCK, 2 * BLOCK).expect("zero");
    assert_eq!((patch.bytes, patch.zeroed, patch.unchanged), (BLOCK, BLOCK, 2 * BLOCK));
    assert_eq!(patch.must_cover.0, vec![(BLOCK, BLOCK), (3 * BLOCK, BLOCK)]);
    let mut b = vec![0u8; size as usize];
    File::open(&tp).expect("open").read_exact_at(&mut b, 0).expect("read");
    assert!(is_zero(&b), "the target holds the round's zeros everywhere");
}

#[test]
fn coverage_is_found_missing_exactly() {
    let mut need = Extents::default();
    need.push(0, 10);
    need.push(10, 5);
    need.push(100, 50);
    assert_eq!(need.0, vec![(0, 15), (100, 50)]);
    let mut seen = Extents::default();
    seen.push(0, 8);
    seen.push(8, 8);
    seen.push(90, 40);
    assert_eq!(need.first_uncovered(&seen), Some((130, 20)));
    seen.push(130, 20);
    assert_eq!(need.first_uncovered(&seen), None);
    assert_eq!(Extents::default().first_uncovered(&Extents::default()), None);
    assert!(seen.overlaps(0, 1) && seen.overlaps(149, 10) && seen.overlaps(50, 41));
    assert!(!seen.overlaps(16, 74) && !seen.overlaps(150, 1) && !Extents::default().overlaps(0, 9));
}

/// The round's read-back runs while the round still patches the export file:
/// zeros read back where the file was a hole when the check began, but holds
/// data now, are a difference (a check built before the patch would skip them).
#[test]
fn a_concurrent_check_compares_ranges_the_round_filled_meanwhile() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("export");
    let f = File::create(&p).expect("create");
    f.set_len(4 * BLOCK).expect("len");
    let mut stale = ReadbackCheck::new(File::open(&p).expect("open")).expect("check");
    let mut check = ReadbackCheck::concurrent(File::open(&p).expect("open"));
    f.write_all_at(&[5u8; 100], BLOCK).expect("the round patches the file");
    let zeros = vec![0u8; BLOCK as usize];
    stale.data(BLOCK, &zeros).expect("the stale check sees only a hole");
    assert!(
        check.data(BLOCK, &zeros).is_err() && check.differs,
        "a write that did not land"
    );
    let mut check = ReadbackCheck::concurrent(File::open(&p).expect("open"));
    let mut landed = zeros.clone();
    landed[..100].fill(5);
    check.data(BLOCK, &landed).expect("equal");
    check.zero(2 * BLOCK, BLOCK).expect("zeros over a hole");
    assert!(!check.differs);
    assert_eq!(check.seen.0, vec![(BLOCK, 2 * BLOCK)]);
    assert!(
        check.zero(0, 2 * BLOCK).is_err() && check.differs,
        "zeros read back over data"
    );
}

/// Extents pushed out of order stay merged and sorted; none is wrapped.
#[test]
fn extents_pushed_out_of_order_are_not_wrapped() {
    let mut e = Extents::default();
    e.push(100, 10);
    e.push(0, 10);
    e.push(5, 100);
    e.push(300, 1);
    assert_eq!(e.0, vec![(0, 110), (300, 1)]);
}

/// A redo's strays (objects of the copy the source lacks) go out in offset
/// order among the stream's records, the parts a record covers left to it:
/// the writer reads back in stream order, and the check refuses a record
/// below the one before it. They are zeroed in the export file and not
/// sought in the read-back.
#[test]
fn strays_are_zeroed_in_offset_order_among_the_records() {
    #[derive(Default)]
    struct Seen(Vec<(char, u64, u64)>);
    impl DiffSink for Seen {
        fn size(&mut self, _: u64) -> io::Result<()> {
            Ok(())
        }
        fn data(&mut self, o: u64, d: &[u8]) -> io::Result<()> {
            self.0.push(('w', o, d.len() as u64));
            Ok(())
        }
        fn zero(&mut self, o: u64, l: u64) -> io::Result<()> {
            self.0.push(('z', o, l));
            Ok(())
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let fp = dir.path().join("export");
    let size = 16 * BLOCK;
    std::fs::write(&fp, vec![7u8; size as usize]).expect("export file");
    let (rx, tx) = rustix::pipe::pipe().expect("pipe");
    let reader = std::thread::spawn(move || {
        let mut seen = Seen::default();
        let r = super::super::rbd_diff::read_diff(File::from(rx), &mut seen, &mut vec![0u8; 1 << 16]);
        (r.map(|_| ()), seen.0)
    });
    let pipe = StallWriter::new(File::from(tx), std::time::Duration::from_secs(5), &Default::default()).expect("w");
    let out = DiffWriter::new(BufWriter::new(pipe), size).expect("header");
    let (mut dirty, mut strays) = (Extents::default(), Extents::default());
    dirty.push(0, size);
    strays.push(2 * BLOCK, 2 * BLOCK);
    strays.push(8 * BLOCK, 4 * BLOCK);
    let mut patch = DeltaPatch::new(rw(&fp), DeltaOut::Rbd(Some(out)), size)
        .expect("patch")
        .dirty(dirty)
        .strays(strays);
    patch.size(size).expect("size");
    patch.data(0, &vec![1u8; BLOCK as usize]).expect("below the strays");
    patch.data(9 * BLOCK, &vec![2u8; BLOCK as usize]).expect("inside one");
    patch.zero(14 * BLOCK, BLOCK).expect("above them");
    patch.end().expect("end");
    let sought = std::mem::take(&mut patch.must_cover);
    drop(patch);
    let (read, seen) = reader.join().expect("reader");
    read.expect("a stream in offset order");
    let b = BLOCK;
    let expect = [
        ('w', 0, b),
        ('z', 2 * b, 2 * b),
        ('z', 8 * b, b),
        ('w', 9 * b, b),
        ('z', 10 * b, 2 * b),
        ('z', 14 * b, b),
    ];
    assert_eq!(seen, expect);
    assert_eq!(sought.0, vec![(0, b), (9 * b, b), (14 * b, b)], "strays are not sought");
    let held = vec![(0, 2 * b), (4 * b, 4 * b), (9 * b, b), (12 * b, 2 * b), (15 * b, b)];
    assert_eq!(patch_cover(&fp, size), held);
}

/// Where the export file holds data now.
fn patch_cover(p: &std::path::Path, size: u64) -> Vec<(u64, u64)> {
    let mut b = vec![0u8; size as usize];
    File::open(p).expect("open").read_exact_at(&mut b, 0).expect("read");
    let mut e = Extents::default();
    for (i, c) in b.chunks(BLOCK as usize).enumerate() {
        if !is_zero(c) {
            e.push(i as u64 * BLOCK, BLOCK);
        }
    }
    e.0
}

use super::*;
use crate::storage::rbd_diff::{read_diff, read_diff_piped, DiffError, DiffSink, DiffWriter, HEADER};
use crate::storage::sparse_file::SparseWriter;
use crate::storage::stage_writer::StageFeed;
use crate::storage::tee::Tee;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use tokio_util::sync::CancellationToken;

const SIZE: u64 = 8 << 20;

/// A sink that keeps what it reads and owns the stage's forward.
struct Staged {
    data: Vec<(u64, Vec<u8>)>,
    forward: Option<PipeForward>,
}

impl DiffSink for Staged {
    fn size(&mut self, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn data(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.data.push((offset, data.to_vec()));
        Ok(())
    }
    fn end(&mut self) -> io::Result<()> {
        self.forward.take().map_or(Ok(()), PipeForward::finish)
    }
    fn forward(&mut self) -> Option<&mut PipeForward> {
        self.forward.as_mut()
    }
}

/// The source's stream: a to-snapshot record, a zero record and three data
/// records, one larger than the reader's buffer.
fn source_stream() -> (Vec<u8>, Vec<(u64, Vec<u8>)>) {
    let records: Vec<(u64, Vec<u8>)> = vec![
        (0, vec![1u8; 5000]),
        (1 << 20, (0..3_000_000u32).map(|i| (i % 251) as u8).collect()),
        (6 << 20, vec![0u8; 70_000]),
    ];
    let mut s = HEADER.to_vec();
    s.extend(b"t");
    s.extend(4u32.to_le_bytes());
    s.extend(b"snap");
    s.extend(b"s");
    s.extend(SIZE.to_le_bytes());
    let mut w = DiffWriter::new(Vec::new(), SIZE).expect("w");
    for (i, (o, d)) in records.iter().enumerate() {
        // The zero record in offset order, between the first two data records.
        if i == 1 {
            w.zero(8192, 4096).expect("z");
        }
        w.data(*o, d).expect("w");
    }
    let body = w.finish().expect("e");
    s.extend(&body[HEADER.len() + 9..]);
    (s, records)
}

/// What the stage must receive: the header and size, the data records, the end.
fn stage_stream(records: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut w = DiffWriter::new(Vec::new(), SIZE).expect("w");
    for (o, d) in records {
        w.data(*o, d).expect("w");
    }
    w.finish().expect("e")
}

/// The stage's pipe with the header written: its forward and its reading end.
fn stage_pipe(stall: Duration) -> (PipeForward, OwnedFd) {
    let (r, w) = rustix::pipe::pipe().expect("pipe");
    let w = DiffWriter::new(File::from(w), SIZE).expect("header").into_inner();
    (PipeForward::new(w, stall), r)
}

/// A thread reading the stage's pipe whole.
fn drain(r: OwnedFd) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        File::from(r).read_to_end(&mut out).expect("read the stage");
        out
    })
}

fn joined(data: &[(u64, Vec<u8>)]) -> Vec<u8> {
    data.iter().flat_map(|(_, d)| d.iter().copied()).collect()
}

/// Read from a pipe, every data byte reaches the stage by tee(2), under the
/// reader's own record headers: no snapshot or zero record, one end record.
#[test]
fn a_piped_stream_reaches_the_stage_by_tee_and_is_read_once() {
    let (stream, records) = source_stream();
    let (src_r, src_w) = rustix::pipe::pipe().expect("pipe");
    // In small writes: each tee(2) then finds a few KiB, never a whole chunk.
    let feeder = std::thread::spawn(move || {
        let mut w = File::from(src_w);
        for part in stream.chunks(1000) {
            w.write_all(part).expect("feed");
            std::thread::yield_now();
        }
    });
    let (forward, stage_r) = stage_pipe(Duration::from_secs(60));
    let stage = drain(stage_r);
    let mut sink = Staged {
        data: Vec::new(),
        forward: Some(forward),
    };
    let src = File::from(src_r);
    let mut buf = vec![0u8; 1 << 20];
    let (size, bytes) = read_diff_piped(&src, Some(src.as_fd()), &mut sink, &mut buf).expect("read");
    feeder.join().expect("feeder");
    assert_eq!((size, bytes), (SIZE, 3_075_000));
    assert_eq!(joined(&sink.data), joined(&records), "the reader's own copy");
    // The sink sees whole pieces: chunks end on 64 KiB or where a record ends.
    let ends: Vec<u64> = records.iter().map(|(o, d)| o + d.len() as u64).collect();
    for (o, d) in &sink.data {
        let end = o + d.len() as u64;
        assert!(
            end % (64 << 10) == 0 || ends.contains(&end),
            "a chunk {o}+{} splits a piece",
            d.len()
        );
    }
    assert_eq!(stage.join().expect("stage"), stage_stream(&records));
}

/// A source that is not a pipe: the forward is sent the bytes read instead.
#[test]
fn a_stream_from_memory_reaches_the_stage_written() {
    let (stream, records) = source_stream();
    let (forward, stage_r) = stage_pipe(Duration::from_secs(60));
    let stage = drain(stage_r);
    let mut sink = Staged {
        data: Vec::new(),
        forward: Some(forward),
    };
    read_diff(stream.as_slice(), &mut sink, &mut [0u8; 4096]).expect("read");
    assert_eq!(stage.join().expect("stage"), stage_stream(&records));
}

/// A stage that takes nothing (a hung new cluster): the read fails after the
/// stall limit and says so, instead of hanging with the pipe full.
#[test]
fn a_stage_that_takes_no_data_fails_the_read_after_the_stall_limit() {
    let (stream, _) = source_stream();
    let (src_r, src_w) = rustix::pipe::pipe().expect("pipe");
    let feeder = std::thread::spawn(move || {
        let _ = File::from(src_w).write_all(&stream);
    });
    let (forward, stage_r) = stage_pipe(Duration::from_millis(300));
    let mut sink = Staged {
        data: Vec::new(),
        forward: Some(forward),
    };
    let src = File::from(src_r);
    let e = read_diff_piped(&src, Some(src.as_fd()), &mut sink, &mut vec![0u8; 1 << 20]).expect_err("a stall");
    assert!(e.to_string().contains("took no data for 0 s"), "{e}");
    drop((src, stage_r));
    feeder.join().expect("feeder");
}

/// A cancel ends a wait for room in a full stage pipe at once, not at the
/// stall limit (a detached source's lock is held meanwhile).
#[test]
fn a_cancelled_export_stops_waiting_for_room_in_the_stage() {
    let (stream, _) = source_stream();
    let (src_r, src_w) = rustix::pipe::pipe().expect("pipe");
    let feeder = std::thread::spawn(move || {
        let _ = File::from(src_w).write_all(&stream);
    });
    let cancel = CancellationToken::new();
    let (forward, stage_r) = stage_pipe(Duration::from_secs(30));
    let mut sink = Staged {
        data: Vec::new(),
        forward: Some(forward.until(&cancel)),
    };
    cancel.cancel();
    let src = File::from(src_r);
    let e = read_diff_piped(&src, Some(src.as_fd()), &mut sink, &mut vec![0u8; 1 << 20]).expect_err("cancelled");
    assert!(
        matches!(&e, DiffError::Io(io) if io.kind() == io::ErrorKind::Interrupted),
        "{e}"
    );
    drop((src, stage_r));
    feeder.join().expect("feeder");
}

/// A `Tee` whose forward was not fed by its reader (data handed to the sink
/// directly) must not end the stage's stream: it would be short.
#[test]
fn a_tee_whose_stage_missed_bytes_sends_no_end_record() {
    let (forward, stage_r) = stage_pipe(Duration::from_secs(60));
    let stage = drain(stage_r);
    let mut tee = Tee::new(
        SparseWriter::hash_only(),
        Some(StageFeed::Teed(forward)),
        SIZE,
        CancellationToken::new(),
    );
    tee.size(SIZE).expect("size");
    tee.data(0, &[7u8; 10]).expect("data");
    tee.end().expect("end");
    assert!(!tee.stage_finished);
    assert_eq!(tee.stage_error.as_deref(), Some("the stage was sent 0 bytes of 10"));
    let got = stage.join().expect("stage");
    assert_eq!(got.len(), HEADER.len() + 9, "header and size only, no end record");
}

/// A `Tee` reading `stream` from a pipe, its stage a pipe nobody reads (the
/// stage's writer died): the read's result, and the `Tee`.
fn read_into_a_dead_stage(file: SparseWriter) -> (Result<(u64, u64), crate::storage::rbd_diff::DiffError>, Tee) {
    let (stream, _) = source_stream();
    let (src_r, src_w) = rustix::pipe::pipe().expect("pipe");
    let feeder = std::thread::spawn(move || {
        let _ = File::from(src_w).write_all(&stream);
    });
    let (forward, stage_r) = stage_pipe(Duration::from_secs(60));
    drop(stage_r);
    let mut tee = Tee::new(file, Some(StageFeed::Teed(forward)), SIZE, CancellationToken::new());
    let src = File::from(src_r);
    let read = read_diff_piped(&src, Some(src.as_fd()), &mut tee, &mut vec![0u8; 1 << 20]);
    drop(src);
    feeder.join().expect("feeder");
    (read, tee)
}

/// With an export file the stage is best effort: its writer gone, the stage
/// is dropped and the file still gets every byte.
#[test]
fn with_a_file_a_dead_stage_is_dropped_and_the_file_completes() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("export.raw");
    let (read, tee) = read_into_a_dead_stage(SparseWriter::create(&path).expect("file"));
    assert_eq!(read.expect("the export goes on"), (SIZE, 3_075_000));
    assert!(!tee.stage_finished);
    assert!(
        tee.stage_error
            .as_deref()
            .is_some_and(|e| e.contains("writing the staging image")),
        "{:?}",
        tee.stage_error
    );
    tee.file.commit().expect("commit");
    let (_, records) = source_stream();
    let got = std::fs::read(&path).expect("read the file");
    for (o, d) in &records {
        assert_eq!(&got[*o as usize..*o as usize + d.len()], &d[..], "at {o}");
    }
}

/// With no export file the stage is the copy: its writer gone, the read fails.
#[test]
fn with_no_file_a_dead_stage_fails_the_read() {
    let (read, _) = read_into_a_dead_stage(SparseWriter::hash_only());
    let e = read.expect_err("the copy failed");
    assert!(e.to_string().contains("the stream into the new cluster failed"), "{e}");
}

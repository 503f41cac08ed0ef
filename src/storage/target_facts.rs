//! What a warm-sync round's writer found on the new image when it opened it,
//! before it read or wrote anything (`assets/rbd_stage_readback.py`, given
//! the round's base snapshot): the guard's questions about the new image,
//! answered by a process the round starts anyway instead of one `rbd`
//! process each.

use super::Extents;
use serde::Deserialize;
use std::fs::File;
use std::io::Read;
use tokio::sync::oneshot;

/// The new image as the writer found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFacts {
    pub size: u64,
    /// Its snapshots (user snapshots, as `rbd snap ls` lists them).
    pub snaps: Vec<String>,
    /// The objects written since the base snapshot (whole objects, from the
    /// object map); `None` when the base is not among `snaps`.
    pub written: Option<Extents>,
}

#[derive(Deserialize)]
struct Wire {
    size: u64,
    snaps: Vec<String>,
    written: Option<Vec<(u64, u64)>>,
}

/// The answer, once the writer has given it; an error (it ended first, or
/// said something else) means: ask `rbd` instead, which says why.
pub type FactsAnswer = oneshot::Receiver<Result<TargetFacts, String>>;

/// Larger than any real answer (a 64 TiB image written in every other object).
const MAX_LEN: usize = 256 << 20;

/// Reads the writer's `g` record from (a duplicate of) its stdout on a thread.
/// Nothing else reads that pipe until the answer is in: the read-back stream
/// that follows is read once the guard has passed.
pub fn read_facts(stdout: &File) -> std::io::Result<FactsAnswer> {
    let mut from = stdout.try_clone()?;
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new().name("round-facts".into()).spawn(move || {
        let _ = tx.send(parse(&mut from));
    })?;
    Ok(rx)
}

fn parse(from: &mut impl Read) -> Result<TargetFacts, String> {
    let mut head = [0u8; 5];
    from.read_exact(&mut head)
        .map_err(|e| format!("the writer gave no answer about the new image: {e}"))?;
    if head[0] != b'g' {
        return Err(format!("the writer answered with record {:?}, not g", head[0] as char));
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_LEN {
        return Err(format!("the writer's answer claims {len} bytes"));
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body)
        .map_err(|e| format!("the writer's answer ended early: {e}"))?;
    let wire: Wire = serde_json::from_slice(&body).map_err(|e| format!("the writer's answer: {e}"))?;
    let written = wire.written.map(|w| {
        let mut extents = Extents::default();
        w.into_iter().for_each(|(off, len)| extents.push(off, len));
        extents
    });
    Ok(TargetFacts {
        size: wire.size,
        snaps: wire.snaps,
        written,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn record(json: &str) -> Vec<u8> {
        let mut r = vec![b'g'];
        r.extend_from_slice(&(json.len() as u32).to_le_bytes());
        r.extend_from_slice(json.as_bytes());
        r
    }

    #[test]
    fn an_answer_is_read_and_nothing_after_it() {
        let mut wire = record(
            r#"{"size": 8589934592, "snaps": ["stackmigrate-sync-2"], "written": [[0, 4194304], [8388608, 4194304]]}"#,
        );
        wire.extend_from_slice(b"rbd diff v1\n");
        let mut from = &wire[..];
        let facts = parse(&mut from).expect("facts");
        assert_eq!(facts.size, 8 << 30);
        assert_eq!(facts.snaps, vec!["stackmigrate-sync-2".to_string()]);
        let written = facts.written.expect("written");
        assert_eq!(written.bytes(), 8 << 20);
        assert_eq!(
            from, b"rbd diff v1\n",
            "the stream after the answer is left for the read-back"
        );
        let gone = parse(&mut &record(r#"{"size": 1, "snaps": [], "written": null}"#)[..]).expect("facts");
        assert!(gone.written.is_none(), "no base snapshot: nothing to diff against");
    }

    #[test]
    fn a_writer_that_ends_or_says_something_else_is_an_error() {
        let e = parse(&mut &b""[..]).expect_err("nothing");
        assert!(e.contains("no answer"), "{e}");
        let e = parse(&mut &b"rbd diff v1\n"[..]).expect_err("a stream");
        assert!(e.contains("not g"), "{e}");
        let mut short = record(r#"{"size": 1}"#);
        short.truncate(8);
        let e = parse(&mut &short[..]).expect_err("short");
        assert!(e.contains("ended early"), "{e}");
        let e = parse(&mut &record(r#"{"size": 1}"#)[..]).expect_err("missing fields");
        assert!(e.contains("snaps"), "{e}");
    }
}

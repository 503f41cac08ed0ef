//! What a warm-sync round's writer found on the new image when it opened it,
//! before it read or wrote anything (`assets/rbd_stage_readback.py`, given
//! the round's base snapshot): the guard's questions about the new image,
//! answered by a process the round starts anyway instead of one `rbd`
//! process each.

use super::Extents;
use serde::Deserialize;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
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

/// Why there is no answer. Either way the guard asks `rbd` instead.
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// The writer looked and could not say; what follows on its stdout is intact.
    #[error("the round's writer could not look at the new image: {0}")]
    Unanswered(String),
    /// No answer, or not one: the writer's stdout cannot be trusted, and the
    /// round must not use it ([`FactsAnswer::broken`]).
    #[error("the round's writer gave no usable answer about the new image: {0}")]
    Broken(String),
}

#[derive(Deserialize)]
struct Wire {
    size: Option<u64>,
    snaps: Option<Vec<String>>,
    written: Option<Vec<(u64, u64)>>,
    error: Option<String>,
}

/// The writer's answer, once it has given it.
pub struct FactsAnswer {
    rx: oneshot::Receiver<Result<TargetFacts, FactsError>>,
    broken: Arc<AtomicBool>,
}

/// The thread reading the answer, and whether the pipe is still usable.
pub struct FactsThread {
    pub thread: std::thread::JoinHandle<()>,
    pub broken: Arc<AtomicBool>,
}

/// Longer than any writer takes to connect and open an image; the rbd CLI's
/// own questions wait as long for a cluster.
const WAIT: Duration = Duration::from_secs(60);

impl FactsAnswer {
    /// The answer, or why there is none (after [`WAIT`]: broken too).
    pub async fn wait(self) -> Result<TargetFacts, FactsError> {
        match tokio::time::timeout(WAIT, self.rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(FactsError::Broken("its reading thread ended".into())),
            Err(_) => {
                self.broken.store(true, Ordering::SeqCst);
                Err(FactsError::Broken(format!("none within {} s", WAIT.as_secs())))
            }
        }
    }
}

/// Larger than any real answer (a 64 TiB image written in every other object).
const MAX_LEN: usize = 256 << 20;

/// Reads the writer's `g` record from (a duplicate of) its stdout on a thread.
/// Nothing else may read that pipe until the thread has ended: the read-back
/// stream follows the record (see [`FactsThread`]).
pub fn read_facts(stdout: &File) -> std::io::Result<(FactsAnswer, FactsThread)> {
    let mut from = stdout.try_clone()?;
    let (tx, rx) = oneshot::channel();
    let broken = Arc::new(AtomicBool::new(false));
    let flag = broken.clone();
    let thread = std::thread::Builder::new().name("round-facts".into()).spawn(move || {
        let answer = parse(&mut from);
        if matches!(answer, Err(FactsError::Broken(_))) {
            flag.store(true, Ordering::SeqCst);
        }
        let _ = tx.send(answer);
    })?;
    let answer = FactsAnswer {
        rx,
        broken: broken.clone(),
    };
    Ok((answer, FactsThread { thread, broken }))
}

fn parse(from: &mut impl Read) -> Result<TargetFacts, FactsError> {
    let broken = |e: String| FactsError::Broken(e);
    let mut head = [0u8; 5];
    from.read_exact(&mut head)
        .map_err(|e| broken(format!("it ended before answering ({e})")))?;
    if head[0] != b'g' {
        return Err(broken(format!("it answered with record {:?}, not g", head[0] as char)));
    }
    let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_LEN {
        return Err(broken(format!("its answer claims {len} bytes")));
    }
    let mut body = vec![0u8; len];
    from.read_exact(&mut body)
        .map_err(|e| broken(format!("its answer ended early ({e})")))?;
    let wire: Wire = serde_json::from_slice(&body).map_err(|e| broken(format!("its answer: {e}")))?;
    if let Some(e) = wire.error {
        return Err(FactsError::Unanswered(e));
    }
    let (Some(size), Some(snaps)) = (wire.size, wire.snaps) else {
        return Err(broken("its answer has no size or no snapshots".into()));
    };
    let written = wire.written.map(|w| {
        let mut extents = Extents::default();
        w.into_iter().for_each(|(off, len)| extents.push(off, len));
        extents
    });
    Ok(TargetFacts { size, snaps, written })
}

#[cfg(test)]
mod tests {
    use super::{parse, FactsError};

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
        let broken = |wire: &[u8], what: &str| match parse(&mut &wire[..]) {
            Err(FactsError::Broken(e)) => assert!(e.contains(what), "{e}"),
            other => panic!("{what}: {other:?}"),
        };
        broken(b"", "ended before answering");
        broken(b"rbd diff v1\n", "not g");
        let mut short = record(r#"{"size": 1}"#);
        short.truncate(8);
        broken(&short, "ended early");
        broken(&record(r#"{"size": 1}"#), "no size or no snapshots");
        // A writer that looked and could not say: the stream after it is intact.
        let mut said = record(r#"{"error": "volume-x: [errno 2] no such snapshot"}"#);
        said.extend_from_slice(b"rbd diff v1\n");
        let mut from = &said[..];
        match parse(&mut from) {
            Err(FactsError::Unanswered(e)) => assert!(e.contains("no such snapshot"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(from, b"rbd diff v1\n");
    }
}

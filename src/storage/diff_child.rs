//! A child process whose stdout is a diff stream (`rbd export-diff`, or the
//! warm-sync delta reader), read into a [`DiffSink`] on a blocking thread
//! while the child is waited for, cancelled or killed.

use super::child_process::{ChildExit, ChildProcess};
use super::rbd_diff::{read_diff, read_diff_piped, DiffSink};
use super::{Counter, DataPathError, RbdError};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_util::sync::CancellationToken;

/// Counts data bytes into `counter` while passing every record to `inner`.
struct Counting<'a, S> {
    inner: S,
    counter: &'a AtomicU64,
}

impl<S: DiffSink> DiffSink for Counting<'_, S> {
    fn size(&mut self, size: u64) -> std::io::Result<()> {
        self.inner.size(size)
    }
    fn data(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.counter.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.inner.data(offset, data)
    }
    fn zero(&mut self, offset: u64, len: u64) -> std::io::Result<()> {
        self.inner.zero(offset, len)
    }
    fn end(&mut self) -> std::io::Result<()> {
        self.inner.end()
    }
    fn forward(&mut self) -> Option<&mut super::pipe_forward::PipeForward> {
        self.inner.forward()
    }
    fn forward_failed(&mut self, e: std::io::Error) -> std::io::Result<()> {
        self.inner.forward_failed(e)
    }
}

/// Reads `child`'s stdout into `sink`; `op` names the child in errors and
/// `what` the stream. Returns the sink, the image size and the data bytes.
pub(super) async fn read_child<S: DiffSink + Send + 'static>(
    mut child: ChildProcess,
    op: &str,
    what: String,
    sink: S,
    counter: Counter,
    cancel: &CancellationToken,
) -> Result<(S, u64, u64), DataPathError> {
    let stdout = child
        .take_stdout()
        .ok_or_else(|| DataPathError::Child("no stdout".into()))?;
    let reader = tokio::task::spawn_blocking(move || {
        let mut sink = Counting {
            inner: sink,
            counter: &counter,
        };
        let mut buf = vec![0u8; 1 << 20];
        // A stage fed by tee(2) needs the pipe unbuffered: what was teed is read next.
        let r = match sink.forward() {
            Some(_) => read_diff_piped(&stdout, Some(stdout.as_fd()), &mut sink, &mut buf),
            None => read_diff(std::io::BufReader::with_capacity(1 << 20, &stdout), &mut sink, &mut buf),
        };
        r.map(|(size, bytes)| (sink.inner, size, bytes))
    });
    let exit = child
        .wait(cancel)
        .await
        .map_err(|e| DataPathError::Child(e.to_string()))?;
    let read = reader.await.map_err(|e| DataPathError::Child(e.to_string()))?;
    match exit {
        ChildExit::Cancelled { .. } => Err(DataPathError::Cancelled),
        ChildExit::Exited { code, stderr } if code != Some(0) => match (RbdError::from_exit(op, code, &stderr), read) {
            // The producer's broken pipe is the reader having stopped: its own
            // error (a full export disk, say) is the one that says why.
            (RbdError::BrokenPipe { .. }, Err(source)) => Err(DataPathError::Diff { what, source }),
            (e, _) => Err(e.into()),
        },
        ChildExit::Exited { .. } => read.map_err(|source| DataPathError::Diff { what, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Seen(Vec<(u64, u64)>);
    impl DiffSink for Seen {
        fn size(&mut self, _: u64) -> std::io::Result<()> {
            Ok(())
        }
        fn data(&mut self, _: u64, _: &[u8]) -> std::io::Result<()> {
            Ok(())
        }
        fn zero(&mut self, offset: u64, len: u64) -> std::io::Result<()> {
            self.0.push((offset, len));
            Ok(())
        }
    }

    /// `sh -c script` as the producer of a stream read into a [`Seen`]; its error.
    async fn failure_of(script: &str) -> DataPathError {
        let argv: Vec<String> = ["sh", "-c", script].iter().map(|s| s.to_string()).collect();
        let child = ChildProcess::spawn(&argv, false, true).expect("sh");
        let (what, sink, cancel) = ("the test stream".to_string(), Seen::default(), CancellationToken::new());
        read_child(child, "export-diff", what, sink, Counter::default(), &cancel)
            .await
            .expect_err("a failure")
    }

    /// A sink that fails (here: the stream is not a diff) stops reading; the
    /// producer then dies of a broken pipe, and the sink's error is reported.
    #[tokio::test]
    async fn the_readers_error_wins_over_the_producers_broken_pipe() {
        let e = failure_of(
            "printf 'this is no diff stream'; sleep 0.2; echo 'rbd: export-diff error: (32) Broken pipe' >&2; exit 32",
        )
        .await;
        assert!(matches!(e, DataPathError::Diff { .. }), "{e}");
        assert!(e.to_string().contains("not an rbd diff"), "{e}");
        // Any other failure of the producer is its own.
        let e = failure_of("echo 'rbd: error opening image: (2) No such file' >&2; exit 2").await;
        assert!(matches!(e, DataPathError::Rbd(RbdError::NotFound { .. })), "{e}");
    }

    /// A discard on the source between rounds reaches the round's sink: a
    /// counter in between once swallowed `z` records, and the copy kept the
    /// data its source had discarded.
    #[test]
    fn zero_records_pass_through_the_counter() {
        let counter = AtomicU64::new(0);
        let mut c = Counting {
            inner: Seen::default(),
            counter: &counter,
        };
        c.data(0, &[1u8; 10]).expect("data");
        c.zero(4096, 8192).expect("zero");
        assert_eq!(c.inner.0, vec![(4096, 8192)]);
        assert_eq!(counter.load(Ordering::Relaxed), 10);
    }
}

//! A detached source's cold export under its exclusive lock (decisions.md,
//! "A detached source is exported under its exclusive lock"; session 19:
//! "read by `rbd export-diff` while a helper holds the lock").
//!
//! The delta reader (`assets/rbd_delta_reader.py`), sent `hold`, takes the
//! image's exclusive lock and says `locked`; only then is `rbd export-diff
//! --whole-object` started on the image itself (no snapshot). Held
//! explicitly, the lock is handed to no one: another client's write fails
//! (EROFS) until it is released, so the bytes read are the image at the lock.
//! Once the stream's end record is in, the helper is asked `check` and must
//! answer `held` (it owned the lock all along); only then does the sink see
//! the end record. A lost lock, a helper that died, or a failed read never
//! ends the sink's stream: the export fails and its stage is abandoned.
//!
//! Why two processes: the rbd CLI reads a dense image with less CPU than the
//! helper's Python reads through librbd, and the source OSD serves its
//! object-sized reads with less (`docs/BENCHMARKS.md`, issue 12, session
//! 19). `--whole-object` lists the image by its object map, as the helper's
//! own listing did: without it, librbd 16 asks every object of the
//! provisioned size (0.8 s for 64 GiB holding 64 MiB). Zeros inside an
//! object then arrive as data; the stage leaves them out (`Tee`).

use super::child_process::{ChildExit, ChildProcess};
use super::diff_child::read_child;
use super::rbd_diff::DiffSink;
use super::{Counter, DataPathError, RbdError, RbdStore};
use std::io::{BufRead, BufReader, Write};
use tokio_util::sync::CancellationToken;

/// Passes a stream on but keeps its end record back until the lock is
/// known to have been held throughout.
struct EndHeld<S> {
    inner: S,
    ended: bool,
}

impl<S: DiffSink> DiffSink for EndHeld<S> {
    fn size(&mut self, size: u64) -> std::io::Result<()> {
        self.inner.size(size)
    }
    fn data(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.inner.data(offset, data)
    }
    fn zero(&mut self, offset: u64, len: u64) -> std::io::Result<()> {
        self.inner.zero(offset, len)
    }
    fn end(&mut self) -> std::io::Result<()> {
        self.ended = true;
        Ok(())
    }
    /// The stage's data records pass; its end record is the inner sink's `end`.
    fn forward(&mut self) -> Option<&mut super::pipe_forward::PipeForward> {
        self.inner.forward()
    }
    fn forward_failed(&mut self, e: std::io::Error) -> std::io::Result<()> {
        self.inner.forward_failed(e)
    }
}

/// The helper holding the lock: its stdin (for `check`), its stdout's lines.
struct LockHolder {
    child: ChildProcess,
    stdin: std::fs::File,
    lines: Option<BufReader<std::fs::File>>,
}

impl LockHolder {
    /// The next line the helper says (empty once its stdout is closed), read
    /// on a blocking thread; `None` when `cancel` fires first.
    async fn line(&mut self, cancel: &CancellationToken) -> Option<String> {
        let mut lines = self.lines.take()?;
        let read = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = lines.read_line(&mut line);
            (line, lines)
        });
        tokio::select! {
            r = read => {
                let (line, lines) = r.ok()?;
                self.lines = Some(lines);
                Some(line)
            }
            _ = cancel.cancelled() => None,
        }
    }

    /// Ends the helper (its stdin closed: the lock is released) and waits
    /// for it: `Ok` only for a clean exit; else the error that says why it
    /// gave up: its own words (the lock's holder named, the lock lost), or
    /// that it died.
    async fn end(self, what: &str, cancel: &CancellationToken) -> Result<(), DataPathError> {
        drop(self.stdin);
        match self.child.wait(cancel).await {
            Err(e) => Err(DataPathError::Child(e.to_string())),
            Ok(exit) if exit.success() => Ok(()),
            Ok(ChildExit::Cancelled { .. }) => Err(DataPathError::Cancelled),
            Ok(ChildExit::Exited { code: Some(c), stderr }) => {
                Err(RbdError::from_exit("delta reader", Some(c), &stderr).into())
            }
            Ok(ChildExit::Exited { .. }) => Err(unconfirmed(what)),
        }
    }

    /// [`Self::end`] where the lock was not confirmed: a clean exit is an
    /// error too.
    async fn fail(self, what: &str, cancel: &CancellationToken) -> DataPathError {
        self.end(what, cancel).await.err().unwrap_or_else(|| unconfirmed(what))
    }
}

fn unconfirmed(what: &str) -> DataPathError {
    DataPathError::Child(format!(
        "the helper holding {what}'s exclusive lock died or ended without confirming it held the lock \
         throughout the read, so a write may have landed meanwhile; nothing is kept; migrate it again"
    ))
}

impl RbdStore {
    /// The whole of `image` (not a snapshot) into `sink`, read under its
    /// exclusive lock, held from before the read to its end and handed to
    /// no one, so no write lands while it is read. A client that holds the
    /// lock and has the image open fails it, named. No snapshot, so no
    /// monitor proposal.
    pub(super) async fn read_locked<S: DiffSink + Send + 'static>(
        &self,
        image: &str,
        sink: S,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(S, u64, u64), DataPathError> {
        let (ceph, timeout) = self.cli().ceph();
        let mut child = super::readback_stage::spawn_python_reader(ceph, timeout, image, ("-", "-"), 1 << 20)?;
        let (Some(mut stdin), Some(stdout)) = (child.take_stdin(), child.take_stdout()) else {
            return Err(DataPathError::Child("the lock helper has no stdin or stdout".into()));
        };
        // A helper already gone says why through its exit.
        let _ = stdin.write_all(b"hold\n");
        let mut holder = LockHolder {
            child,
            stdin,
            lines: Some(BufReader::new(stdout)),
        };
        let spec = self.spec(image);
        match holder.line(cancel).await.as_deref() {
            Some("locked\n") => {}
            _ => return Err(holder.fail(&spec, cancel).await),
        }
        let argv = self
            .cli()
            .argv(&["export-diff", "--no-progress", "--whole-object", &spec, "-"]);
        let reader = match ChildProcess::spawn(&argv, false, true) {
            Ok(r) => r,
            Err(e) => {
                let _ = holder.end(&spec, cancel).await;
                return Err(RbdError::Spawn {
                    op: "export-diff".into(),
                    message: e.to_string(),
                }
                .into());
            }
        };
        let what = format!("rbd export-diff {spec} (read under its exclusive lock)");
        let sink = EndHeld {
            inner: sink,
            ended: false,
        };
        let (sink, size, bytes) = match read_child(reader, "export-diff", what, sink, counter, cancel).await {
            Ok(read) => read,
            Err(e) => {
                let _ = holder.end(&spec, cancel).await;
                return Err(e);
            }
        };
        let _ = holder.stdin.write_all(b"check\n");
        match holder.line(cancel).await.as_deref() {
            Some("held\n") if sink.ended => {}
            _ => return Err(holder.fail(&spec, cancel).await),
        }
        holder.end(&spec, cancel).await?;
        let mut inner = sink.inner;
        inner.end().map_err(|source| DataPathError::Diff {
            what: format!("{spec} (read under its exclusive lock)"),
            source: source.into(),
        })?;
        Ok((inner, size, bytes))
    }
}

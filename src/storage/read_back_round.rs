//! A warm-sync round through librbd (where `python3-rbd` is installed): the
//! source's changes are read by the delta reader (`assets/rbd_delta_reader.py`,
//! or the compiled helper's, [`super::compiled_helper`]), which sends a
//! zero piece as a `z` record instead of its bytes, so a 64 KiB write into
//! an object created since the last round costs 64 KiB, not the object's
//! span; the new image is written by `assets/rbd_stage_readback.py` (or the
//! compiled helper's writer), which
//! reads each extent back once its write is acknowledged. The bytes read
//! back are compared with the export file while the round runs, so the
//! round is verified when its stream ends: no second pass over the new
//! image's own diff. The new image's to-snapshot is taken after that.
//! Both helpers are started beside the guard and the round's snapshot
//! ([`RoundHelpers`]): their start (an interpreter, a cluster connection)
//! is hidden behind them. A cutover's reader that locks the source is sent
//! `lock` beside the guard too, and takes no snapshot.

use super::child_process::ChildProcess;
use super::delta_sinks::{DeltaOut, DeltaPatch, ReadbackCheck};
use super::rbd_diff::{read_diff, DiffError, DiffWriter};
use super::snap_drop::{writer_exit, SnapDrop, WriterFailed};
use super::sparse_hash::BLOCK;
use super::stage_child::wait_stage_child;
use super::stall_writer::{broken_pipe, StallWriter};
use super::target_facts::{read_facts, FactsAnswer, FactsThread};
use super::{readback_stage, BlockStore, Counter, DataPathError, DeltaApplied, DeltaRound, RbdStore};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use tokio_util::sync::CancellationToken;

/// A round's two helpers, started ahead: the reader waits for `go` (or
/// `lock`), the writer for its stream. Dropped unused (the snapshot failed),
/// both are killed; once the reader may hold the source's lock
/// ([`RoundHelpers::lock_source_now`]), [`RoundHelpers::stop`] ends them instead.
pub struct RoundHelpers {
    reader: ChildProcess,
    /// `None` once the reader was sent its line.
    go: Option<File>,
    writer: ChildProcess,
    stdin: File,
    stdout: File,
    /// The writer's answer to the guard, until taken.
    facts: Option<FactsAnswer>,
    /// Its reader: joined before anything else reads `stdout`.
    facts_thread: FactsThread,
}

impl RoundHelpers {
    /// What the writer found on the new image when it opened it (once).
    pub fn take_facts(&mut self) -> Option<FactsAnswer> {
        self.facts.take()
    }

    /// Whether the round may go on with these helpers: not when the writer's
    /// first record was missing or garbled, since its stream cannot be trusted.
    pub fn usable(&self, target_image: &str) -> Result<(), String> {
        if self.facts_thread.broken.load(Ordering::SeqCst) {
            return Err(format!(
                "the writer of {target_image} gave no usable first record, so its stream cannot be trusted; nothing was written; retry"
            ));
        }
        Ok(())
    }

    /// Sends the reader `lock` now, beside the guard ([`DeltaRound::lock_source`]):
    /// it takes the source's exclusive lock, lists and reads, which changes
    /// nothing; what it sends waits in its pipe until the round is applied.
    /// A reader already gone says why through its exit, later.
    pub fn lock_source_now(&mut self) {
        if let Some(mut go) = self.go.take() {
            let _ = go.write_all(b"lock\n");
        }
    }

    /// Ends both helpers with SIGTERM (then SIGKILL after a grace period) and
    /// waits: a reader that holds the source's lock closes the image, which
    /// releases it (a killed holder's lock stays about 30 s).
    pub async fn stop(self) {
        stop_both(self.reader, self.writer).await;
    }
}

async fn stop_both(reader: ChildProcess, writer: ChildProcess) {
    let stop = CancellationToken::new();
    stop.cancel();
    let _ = tokio::join!(reader.wait(&stop), writer.wait(&stop));
}

impl BlockStore {
    /// Rounds into `target` are read back as they are written (librbd on
    /// both sides): they need no snapshot on the target's side, neither to
    /// start from nor to check against.
    pub async fn reads_back_rounds(&self, target: &BlockStore) -> bool {
        matches!((self, target), (BlockStore::Rbd(_), BlockStore::Rbd(_))) && super::readback_stage::available().await
    }

    /// Starts a round's helpers before its snapshot `to` is taken (or
    /// instead of it: [`DeltaRound::lock_source`]), where rounds are read
    /// back as they are written; `None` elsewhere.
    pub async fn start_round(
        &self,
        target: &BlockStore,
        (image, from, to): (&str, &str, &str),
        target_image: &str,
        drop_target_snaps: Option<&str>,
    ) -> Result<Option<RoundHelpers>, DataPathError> {
        match (self, target) {
            (BlockStore::Rbd(s), BlockStore::Rbd(t)) if self.reads_back_rounds(target).await => s
                .start_round(t, (image, from, to), target_image, drop_target_snaps)
                .map(Some),
            _ => Ok(None),
        }
    }

    /// Whether a cold export may read `image` under its exclusive lock
    /// instead of a snapshot ([`RbdStore::read_locked`]): the delta reader
    /// can run (`python3-rbd`), and the image has the feature, as its usage
    /// was measured ([`RbdStore::usage`]). A file store has no locks.
    pub async fn can_read_locked(&self, image: &str) -> bool {
        match self {
            BlockStore::Rbd(s) => s.exclusive_lock(image) == Some(true) && super::readback_stage::available().await,
            BlockStore::File(_) => false,
        }
    }

    /// Whether `image` may have snapshots, as its usage was measured: a
    /// locked export removes a crashed try's export snapshot only then.
    pub fn may_have_snapshots(&self, image: &str) -> bool {
        match self {
            BlockStore::Rbd(s) => s.snapshot_count(image) != Some(0),
            BlockStore::File(_) => false,
        }
    }

    /// Whether a cutover's final round may take `image`'s exclusive lock
    /// instead of a snapshot ([`DeltaRound::lock_source`]): rounds
    /// are read back as written, and the image has the exclusive-lock feature.
    pub async fn lockable(&self, target: &BlockStore, image: &str) -> bool {
        match self {
            BlockStore::Rbd(s) if self.reads_back_rounds(target).await => s
                .info(image)
                .await
                .is_ok_and(|i| i.features.iter().any(|f| f == "exclusive-lock")),
            _ => false,
        }
    }
}

impl RbdStore {
    /// Starts the helpers of round `from → to` of `image` into `target_image`
    /// on `target`; snapshot `to` need not exist yet. `drop_snaps`: see
    /// [`DeltaRound::drop_target_snaps`].
    pub(super) fn start_round(
        &self,
        target: &RbdStore,
        (image, from, to): (&str, &str, &str),
        target_image: &str,
        drop_snaps: Option<&str>,
    ) -> Result<RoundHelpers, DataPathError> {
        let (ceph, timeout) = self.cli().ceph();
        let mut reader = readback_stage::spawn_delta_reader(ceph, timeout, image, (from, to), BLOCK)?;
        let go = reader
            .take_stdin()
            .ok_or_else(|| DataPathError::Child("no stdin".into()))?;
        let (ceph, timeout) = target.cli().ceph();
        // The new image's snapshot of round `from` is the guard's base.
        let (writer, stdin, stdout) =
            readback_stage::spawn_writer(ceph, timeout, target_image, drop_snaps, Some(from), false)?;
        let (facts, facts_thread) = read_facts(&stdout)
            .map_err(|e| DataPathError::Child(format!("cannot read the answer of {target_image}'s writer: {e}")))?;
        Ok(RoundHelpers {
            reader,
            go: Some(go),
            writer,
            stdin,
            stdout,
            facts: Some(facts),
            facts_thread,
        })
    }

    /// `r` from this store into `target` with both helpers (started now
    /// unless `helpers` were started ahead); see the module.
    pub(super) async fn apply_delta_read_back(
        &self,
        target: &RbdStore,
        r: &DeltaRound<'_>,
        helpers: Option<RoundHelpers>,
        file: File,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<DeltaApplied, DataPathError> {
        let helpers = match helpers {
            Some(h) => h,
            None => self.start_round(target, (r.image, r.from, r.to), r.target_image, r.drop_target_snaps)?,
        };
        let RoundHelpers {
            reader,
            go,
            writer,
            stdin,
            stdout,
            facts,
            facts_thread,
        } = helpers;
        // The answer comes first on the writer's stdout: read (and its thread
        // ended) before the read-back starts, and the stream usable after it.
        if let Some(facts) = facts {
            let _ = facts.wait().await;
        }
        if facts_thread.broken.load(Ordering::SeqCst) {
            stop_both(reader, writer).await;
            let why = format!(
                "the writer of {} gave no usable first record; nothing was written",
                r.target_image
            );
            return Err(DataPathError::Child(why));
        }
        let _ = tokio::task::spawn_blocking(move || facts_thread.thread.join()).await;
        let ready = spawn_check(stdout, r.file).and_then(|check| {
            let io = |e| DataPathError::io(Path::new(r.target_image), e);
            let stdin = StallWriter::new(stdin, r.stall, cancel).map_err(io)?;
            let out = DiffWriter::new(std::io::BufWriter::with_capacity(1 << 20, stdin), r.size).map_err(io)?;
            let patch =
                DeltaPatch::new(file, DeltaOut::Rbd(Some(out)), r.size).map_err(|e| DataPathError::io(r.file, e))?;
            Ok((check, patch.dirty(r.dirty.clone()).strays(r.strays.clone())))
        });
        let (check, patch) = match ready {
            Ok(ready) => ready,
            Err(e) => {
                // The reader may hold the source's lock already: it must let go.
                stop_both(reader, writer).await;
                return Err(e);
            }
        };
        // Snapshot `to` exists and the reader may open it, or the reader
        // takes the image's exclusive lock and reads the image itself (sent
        // beside the guard, or now). A reader already gone says why through
        // its exit; one still there but not sent a line ends at the closed stdin.
        if let Some(mut go) = go {
            let _ = go.write_all(if r.lock_source { b"lock\n" } else { b"go\n" });
        }
        let what = if r.lock_source {
            format!("the changes of {} (locked) since {}", r.image, r.from)
        } else {
            format!("the changes of {}@{} since {}", r.image, r.to, r.from)
        };
        // A read that fails (the new cluster took no data for the stall
        // limit, say) stops the writer, which may hang there: the reader
        // has let go of the source's lock at its broken pipe.
        // Once the stream is whole in its pipe, the writer gets the stall
        // limit to finish its last writes and read-backs.
        let (stop_writer, ended) = (cancel.child_token(), std::sync::Arc::new(tokio::sync::Notify::new()));
        let read = async {
            let read = super::diff_child::read_child(reader, "delta reader", what, patch, counter, cancel).await;
            match read {
                Err(_) => stop_writer.cancel(),
                Ok(_) => ended.notify_one(),
            }
            let (patch, size, bytes) = read?;
            // The export file is complete once the source's stream ends: made
            // durable while the writer still reads its last extents back.
            let file = patch.file.try_clone().map_err(|e| DataPathError::io(r.file, e))?;
            tokio::task::spawn_blocking(move || file.sync_all())
                .await
                .map_err(|e| DataPathError::Child(e.to_string()))?
                .map_err(|e| DataPathError::io(r.file, e))?;
            Ok::<_, DataPathError>((patch, size, bytes))
        };
        // The writer's exit in a task of its own: one that removes the new
        // image's snapshots sends the stream's end before it waits for that.
        let exit = {
            let (stop, abort, ended, stall) = (stop_writer.clone(), cancel.clone(), ended.clone(), r.stall);
            tokio::spawn(async move { wait_stage_child(writer, &stop, &abort, &ended, stall).await })
        };
        let checking = tokio::task::spawn_blocking(move || check.join());
        let (read, checked) = tokio::join!(read, checking);
        // A mismatch stops the check first, and the writer and reader fail
        // after it (the writer at its next record, its stdout's reader gone).
        let (check, checked) = match checked {
            Ok(Ok(checked)) => checked,
            failed => {
                let _ = exit.await;
                return Err(DataPathError::Child(match failed {
                    Err(e) => e.to_string(),
                    _ => "the round's read-back thread panicked".into(),
                }));
            }
        };
        if check.differs {
            if let Err(e) = checked {
                let _ = exit.await;
                return Err(DataPathError::Mismatch(format!("{}: {e}", r.target_image)));
            }
        }
        // Every extent sent read back, the stream whole: the round is verified
        // while the writer still removes the new image's snapshots (a
        // monitor proposal, up to a second); the caller waits for that later.
        let uncovered = match &read {
            Ok((patch, ..)) => patch.must_cover.first_uncovered(&check.seen),
            Err(_) => None,
        };
        let whole = read.is_ok() && checked.is_ok() && uncovered.is_none();
        let dropping = whole && r.drop_target_snaps.is_some() && !cancel.is_cancelled();
        let snap_drop = if dropping {
            Some(SnapDrop {
                image: r.target_image.to_string(),
                exit,
                cancel: cancel.clone(),
            })
        } else {
            let exit = exit.await.map_err(|e| DataPathError::Child(e.to_string()))?;
            match writer_exit(exit, r.target_image, cancel) {
                Ok(()) => {}
                // The source side fails after the writer only because its pipe broke.
                Err(WriterFailed::Exited(writer)) => {
                    return Err(match read {
                        Err(e) if !broken_pipe(&e) => e,
                        _ => writer,
                    })
                }
                Err(WriterFailed::Stopped(said)) => {
                    return Err(super::stall_writer::writer_stopped(read, said.as_deref()))
                }
                Err(WriterFailed::Other(e)) => return Err(e),
            }
            None
        };
        let (patch, ..) = read?;
        checked.map_err(|source| DataPathError::Diff {
            what: format!("the read-back of {}", r.target_image),
            source,
        })?;
        if let Some((off, len)) = uncovered {
            return Err(DataPathError::Mismatch(format!(
                "{}: {len} bytes at {off} were sent in this round but were not read back",
                r.target_image
            )));
        }
        if r.snap_target {
            target.snap_create(r.target_image, r.to).await?;
        }
        let mut applied = patch.applied(Some(check.bytes));
        applied.snap_drop = snap_drop;
        Ok(applied)
    }
}

type Check = std::thread::JoinHandle<(ReadbackCheck, Result<(u64, u64), DiffError>)>;

/// The thread comparing what the writer reads back with the export file.
fn spawn_check(from: File, file: &Path) -> Result<Check, DataPathError> {
    let export = File::open(file).map_err(|e| DataPathError::io(file, e))?;
    std::thread::Builder::new()
        .name("round-read-back".into())
        .spawn(move || {
            let mut check = ReadbackCheck::concurrent(export);
            let mut buf = vec![0u8; 1 << 20];
            let r = read_diff(std::io::BufReader::with_capacity(1 << 20, from), &mut check, &mut buf);
            (check, r)
        })
        .map_err(|e| DataPathError::Child(e.to_string()))
}

//! Warm sync's rounds on a block store: the changes between two snapshots of
//! the source, streamed once into the new image and the export file, then
//! read back and compared (as written with librbd: `read_back_round.rs`; else
//! the new image's own diff). Each round costs what changed, not what it holds.

use super::child_process::ChildExit;
use super::delta_sinks::{DeltaOut, DeltaPatch, ReadbackCheck};
use super::rbd_diff::{DiffSink, DiffWriter};
use super::read_back_round::RoundHelpers;
use super::sparse_file::DataExtents;
use super::sparse_hash::{is_zero, BLOCK};
use super::stage_child::wait_stage_child;
use super::stall_writer::{broken_pipe, writer_stopped, StallWriter};
use super::Extents;
use super::{BlockStore, Counter, DataPathError, FileStore, RbdError};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// One round: `image@from` → `image@to` on this store, applied to
/// `target_image` on `target` (which holds snapshot `from`) and to `file`.
pub struct DeltaRound<'a> {
    pub image: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub target: &'a BlockStore,
    pub target_image: &'a str,
    /// The export file; it equals `image@from` before and `image@to` after.
    pub file: &'a Path,
    pub size: u64,
    /// Whether `target_image` gets snapshot `to` (the base of the next
    /// round); the cutover's final round needs none.
    pub snap_target: bool,
    /// Where an earlier, cut-short try of this round may have written to
    /// `target_image`: zeros there are written even where the export file
    /// holds zeros (that try may have punched the file but not the image).
    pub dirty: &'a Extents,
    /// Objects of `target_image` that `image` lacks (the redo of a final
    /// round cut short under the source's lock): zeroed first.
    pub strays: &'a Extents,
    /// Rounds read back as written: `target_image`'s snapshots with this name
    /// prefix go while the round writes (the final round needs none).
    pub drop_target_snaps: Option<&'a str>,
    /// Rounds read back as written: no snapshot `to` is taken; the reader
    /// takes `image`'s exclusive lock and reads the image itself, which no
    /// one can write meanwhile (a cutover whose source no server writes:
    /// [`BlockStore::lockable`]).
    pub lock_source: bool,
    /// No room in the new image's writer's pipe for this long: the new
    /// cluster took no data, and the round fails (the source's lock goes).
    pub stall: std::time::Duration,
}

/// What a round applied.
#[derive(Debug)]
pub struct DeltaApplied {
    /// Data bytes.
    pub bytes: u64,
    /// Bytes zeroed over data the copy held (discards on the source).
    pub zeroed: u64,
    /// Zeros the source sent where the copy held zeros already (not applied).
    pub unchanged: u64,
    /// 64 KiB blocks whose content may have changed (for the manifest).
    pub blocks: Vec<u64>,
    /// What the new image must report as changed.
    pub must_cover: Extents,
    /// Bytes read back and compared while the round ran (the librbd
    /// helpers); `None`: `check_delta` reads the new image's diff after it.
    pub read_back: Option<u64>,
    /// The new image's writer still removing its warm-sync snapshots after
    /// the round it verified: to be awaited before they are looked at.
    pub snap_drop: Option<super::SnapDrop>,
}

impl BlockStore {
    /// The image's provisioned size.
    pub async fn image_size(&self, image: &str) -> Result<u64, RbdError> {
        match self {
            BlockStore::Rbd(s) => s.info(image).await.map(|i| i.size),
            BlockStore::File(s) => std::fs::metadata(s.path(image))
                .map(|m| m.len())
                .map_err(|e| RbdError::NotFound {
                    op: "info".into(),
                    stderr: format!("{image}: {e}"),
                }),
        }
    }

    pub async fn snap_list(&self, image: &str) -> Result<Vec<String>, RbdError> {
        match self {
            BlockStore::Rbd(s) => s.snap_list(image).await,
            BlockStore::File(s) => s.snap_list(image),
        }
    }

    /// Streams `from → to` of `r.image` into `r.target_image` and `r.file`,
    /// with the `helpers` [`Self::start_round`] started, if any.
    pub async fn apply_delta(
        &self,
        r: &DeltaRound<'_>,
        helpers: Option<RoundHelpers>,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<DeltaApplied, DataPathError> {
        let file = match super::private_fs::options().read(true).write(true).open(r.file) {
            Ok(file) => file,
            Err(e) => {
                // The reader may hold the source's lock already: it must let go.
                if let Some(h) = helpers {
                    h.stop().await;
                }
                return Err(DataPathError::io(r.file, e));
            }
        };
        if let (BlockStore::Rbd(s), BlockStore::Rbd(t)) = (self, r.target) {
            if self.reads_back_rounds(r.target).await {
                return s.apply_delta_read_back(t, r, helpers, file, counter, cancel).await;
            }
        }
        let (out, child) = match r.target {
            BlockStore::Rbd(t) => {
                let (spec, child, stdin) = t.spawn_import_diff(r.target_image)?;
                let stdin =
                    StallWriter::new(stdin, r.stall, cancel).map_err(|e| DataPathError::io(Path::new(&spec), e))?;
                let w = std::io::BufWriter::with_capacity(1 << 20, stdin);
                let w = DiffWriter::delta(w, r.from, r.snap_target.then_some(r.to), r.size)
                    .map_err(|e| DataPathError::io(Path::new(&spec), e))?;
                (DeltaOut::Rbd(Some(w)), Some(child))
            }
            BlockStore::File(t) => {
                if !t.path(&format!("{}@{}", r.target_image, r.from)).exists() {
                    return Err(RbdError::NotFound {
                        op: "import-diff".into(),
                        stderr: format!("{}@{} does not exist", r.target_image, r.from),
                    }
                    .into());
                }
                let path = t.path(r.target_image);
                let f = super::private_fs::options()
                    .write(true)
                    .open(&path)
                    .map_err(|e| DataPathError::io(&path, e))?;
                (DeltaOut::File(f), None)
            }
        };
        let patch = DeltaPatch::new(file, out, r.size)
            .map_err(|e| DataPathError::io(r.file, e))?
            .dirty(r.dirty.clone())
            .strays(r.strays.clone());
        // A read that fails stops the writer: one hung in the new cluster
        // would not end at its closed stdin.
        // Once the stream is whole in its pipe, the writer gets the stall
        // limit to finish (a cluster hung on the last writes).
        let (stop_writer, ended) = (cancel.child_token(), tokio::sync::Notify::new());
        let read = async {
            let read = self
                .read_delta(r.image, r.from, Some(r.to), patch, counter, cancel)
                .await;
            match read {
                Err(_) => stop_writer.cancel(),
                Ok(_) => ended.notify_one(),
            }
            read
        };
        let (read, exit) = match child {
            // The writer's end closes import-diff's stdin when the reader drops it.
            Some(c) => {
                let (read, exit) = tokio::join!(read, wait_stage_child(c, &stop_writer, cancel, &ended, r.stall));
                (read, Some(exit))
            }
            None => (read.await, None),
        };
        if let Some(exit) = exit {
            let exit = exit.map_err(|e| DataPathError::Child(format!("import-diff into {}: {e}", r.target_image)))?;
            match exit {
                ChildExit::Cancelled { .. } if !cancel.is_cancelled() => {
                    return Err(writer_stopped(read, exit.last_words()))
                }
                ChildExit::Cancelled { .. } => return Err(DataPathError::Cancelled),
                ChildExit::Exited { code, stderr } if code != Some(0) => {
                    let writer = RbdError::from_exit("import-diff", code, &stderr).into();
                    // The reader's error says why the stream broke, unless
                    // it broke only because import-diff left.
                    return Err(match read {
                        Err(e) if !broken_pipe(&e) => e,
                        _ => writer,
                    });
                }
                ChildExit::Exited { .. } => {}
            }
        }
        let patch = read?;
        patch.file.sync_all().map_err(|e| DataPathError::io(r.file, e))?;
        if let (BlockStore::File(t), DeltaOut::File(f)) = (r.target, &patch.out) {
            f.sync_all()
                .map_err(|e| DataPathError::io(&t.path(r.target_image), e))?;
            if r.snap_target {
                t.snap_create(r.target_image, r.to).await?;
            }
        }
        Ok(patch.applied(None))
    }

    /// Reads back what changed on `image` between `from` and `to` (or its
    /// head), compares it with `file`, and checks it covers what the round
    /// sent. Returns the bytes read back.
    pub async fn check_delta(
        &self,
        image: &str,
        from: &str,
        to: Option<&str>,
        file: &Path,
        applied: &DeltaApplied,
        cancel: &CancellationToken,
    ) -> Result<u64, DataPathError> {
        let counter = Counter::default();
        let f = File::open(file).map_err(|e| DataPathError::io(file, e))?;
        let check = self
            .read_delta(
                image,
                from,
                to,
                ReadbackCheck::new(f).map_err(|e| DataPathError::io(file, e))?,
                counter,
                cancel,
            )
            .await
            .map_err(|e| match e {
                DataPathError::Diff { source, .. } => DataPathError::Mismatch(format!("{image}: {source}")),
                e => e,
            })?;
        if let Some((off, len)) = applied.must_cover.first_uncovered(&check.seen) {
            return Err(DataPathError::Mismatch(format!(
                "{image}: {len} bytes at {off} were sent in this round but the new image does not show them written"
            )));
        }
        Ok(check.bytes)
    }

    /// Where `image` was written since its snapshot `snap` (none: untouched);
    /// on Ceph in whole objects, a superset of the bytes written.
    pub async fn changed_since(
        &self,
        image: &str,
        snap: &str,
        cancel: &CancellationToken,
    ) -> Result<Extents, DataPathError> {
        if let BlockStore::Rbd(s) = self {
            return Ok(s.objects_changed_since(image, snap, cancel).await?);
        }
        struct Written(Extents);
        impl DiffSink for Written {
            fn size(&mut self, _: u64) -> std::io::Result<()> {
                Ok(())
            }
            fn data(&mut self, offset: u64, d: &[u8]) -> std::io::Result<()> {
                self.0.push(offset, d.len() as u64);
                Ok(())
            }
            fn zero(&mut self, offset: u64, len: u64) -> std::io::Result<()> {
                self.0.push(offset, len);
                Ok(())
            }
        }
        let w = self
            .read_delta(
                image,
                snap,
                None,
                Written(Extents::default()),
                Counter::default(),
                cancel,
            )
            .await?;
        Ok(w.0)
    }

    /// The changes from `image@from` to `image@to` (or the head) into `sink`.
    async fn read_delta<S: DiffSink + Send + 'static>(
        &self,
        image: &str,
        from: &str,
        to: Option<&str>,
        sink: S,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<S, DataPathError> {
        let spec = to.map_or(image.to_string(), |t| format!("{image}@{t}"));
        match self {
            BlockStore::Rbd(s) => s
                .read_delta(&spec, Some(from), sink, counter, cancel)
                .await
                .map(|(s, ..)| s),
            BlockStore::File(s) => s.read_delta(&format!("{image}@{from}"), &spec, sink, &counter, cancel),
        }
    }
}

impl FileStore {
    pub fn snap_list(&self, image: &str) -> Result<Vec<String>, RbdError> {
        // Not through `ls`: it leaves the `image@snap` files out.
        let dir = self.dir();
        let entries = std::fs::read_dir(dir).map_err(|e| RbdError::NotFound {
            op: "snap ls".into(),
            stderr: format!("{}: {e}", dir.display()),
        })?;
        let prefix = format!("{image}@");
        let mut snaps: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_prefix(&prefix).map(str::to_string))
            // A snapshot whose copy a crash cut short is not one (`ImageFile`).
            .filter(|n| !n.ends_with(".partial"))
            .collect();
        snaps.sort();
        Ok(snaps)
    }

    /// The blocks that differ between two image files, as a diff: `w` for
    /// data, `z` for blocks that became zeros. Only blocks with data in
    /// either file are compared (both read as zeros elsewhere), so a round
    /// costs what the images hold, not their provisioned size.
    fn read_delta<S: DiffSink>(
        &self,
        from: &str,
        to: &str,
        mut sink: S,
        counter: &Counter,
        cancel: &CancellationToken,
    ) -> Result<S, DataPathError> {
        let open = |name: &str| {
            let p = self.path(name);
            File::open(&p).map_err(|e| DataPathError::io(&p, e))
        };
        let (a, b) = (open(from)?, open(to)?);
        let pb = self.path(to);
        let io = |e| DataPathError::io(&pb, e);
        let size = b.metadata().map_err(io)?.len();
        let size_a = a.metadata().map_err(io)?.len();
        sink.size(size).map_err(io)?;
        let (mut ba, mut bb) = (vec![0u8; BLOCK as usize], vec![0u8; BLOCK as usize]);
        for (first, end) in data_blocks([&a, &b], size).map_err(io)? {
            for block in first..end {
                if cancel.is_cancelled() {
                    return Err(DataPathError::Cancelled);
                }
                let off = block * BLOCK;
                let n = (size - off).min(BLOCK) as usize;
                b.read_exact_at(&mut bb[..n], off).map_err(io)?;
                let na = size_a.saturating_sub(off).min(n as u64) as usize;
                ba[..n].fill(0);
                a.read_exact_at(&mut ba[..na], off).map_err(io)?;
                if ba[..n] != bb[..n] {
                    if is_zero(&bb[..n]) {
                        sink.zero(off, n as u64).map_err(io)?;
                    } else {
                        sink.data(off, &bb[..n]).map_err(io)?;
                        counter.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }
        sink.end().map_err(io)?;
        Ok(sink)
    }
}

/// The 64 KiB blocks below `size` that hold data in any of `files`, as
/// sorted, merged `[first, end)` block ranges.
fn data_blocks(files: [&File; 2], size: u64) -> std::io::Result<Vec<(u64, u64)>> {
    let mut ranges = Vec::new();
    for f in files {
        for extent in DataExtents::new(f)? {
            let (off, len) = extent?;
            let end = (off + len).min(size);
            if off < end {
                ranges.push((off / BLOCK, end.div_ceil(BLOCK)));
            }
        }
    }
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (first, end) in ranges {
        match merged.last_mut() {
            Some(last) if first <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((first, end)),
        }
    }
    Ok(merged)
}

#[cfg(test)]
#[path = "block_delta_tests.rs"]
mod tests;

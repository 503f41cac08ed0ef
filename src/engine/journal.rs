//! The durable journal: one JSON line per transition, fsync'd before the
//! engine tells anyone about it. Replaying it through the reducer rebuilds
//! every volume's record after a crash; a torn last line (the crash hit
//! mid-write) is dropped, since its event was never sent.

use super::volume_state::{apply, Phase, Transition, VolumeRecord};
use crate::storage::private_fs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    seq: u64,
    at: String,
    volume: String,
    #[serde(flatten)]
    transition: Transition,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("journal {}:{line}: {message}; move the journal aside to start over (every volume is then copied afresh: the copies already in the new cloud are left alone, not reused)", path.display())]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("journal {}: another stackmigrate (migrate, cleanup or the dashboard) is working on this project; wait for it to finish or stop it, then run again", path.display())]
    Busy { path: PathBuf },
    #[error("volume {volume}: cannot look at its export file {}: {source}; fix the export directory (mounted, readable) and run again: the journal still knows the file", path.display())]
    ExportUnreadable {
        volume: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Illegal(#[from] super::IllegalTransition),
}

pub struct Journal {
    path: PathBuf,
    file: File,
    seq: u64,
    records: BTreeMap<String, VolumeRecord>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for writing and replays it.
    /// Holds an exclusive lock until dropped: two runs on one project would
    /// both find no copy in the new cloud and both create one.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            private_fs::create_dir_all(dir).map_err(io)?;
        }
        let Some(file) = private_fs::open_locked(path).map_err(io)? else {
            return Err(JournalError::Busy {
                path: path.to_path_buf(),
            });
        };
        // An earlier version created it with the umask's mode; it lists the tenants' volumes.
        private_fs::make_private(&file).map_err(io)?;
        let (records, seq, good_len) = replay(path)?;
        // Cut a torn tail so the next append starts on a fresh line; a whole
        // last entry whose newline was never written gets it.
        let len = file.metadata().map_err(io)?.len();
        if len > good_len {
            file.set_len(good_len).map_err(io)?;
        } else if len < good_len {
            (&file).write_all(b"\n").map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            seq,
            records,
        })
    }

    /// The records of the journal at `path`, for viewing: no lock, nothing cut.
    pub fn read(path: &Path) -> Result<Vec<VolumeRecord>, JournalError> {
        replay(path).map(|(records, ..)| records.into_values().collect())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, volume: &str) -> Option<&VolumeRecord> {
        self.records.get(volume)
    }

    pub fn records(&self) -> impl Iterator<Item = &VolumeRecord> {
        self.records.values()
    }

    /// Applies `t` to `volume` if legal, then appends and fsyncs it. Only
    /// after this returns may the engine emit the matching event.
    pub fn record(&mut self, volume: &str, t: Transition) -> Result<VolumeRecord, JournalError> {
        let mut next = self
            .records
            .get(volume)
            .cloned()
            .unwrap_or_else(|| VolumeRecord::new(volume));
        apply(&mut next, &t)?;
        let entry = Entry {
            seq: self.seq + 1,
            at: chrono::Utc::now().to_rfc3339(),
            volume: volume.to_string(),
            transition: t,
        };
        let mut line = serde_json::to_vec(&entry).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push(b'\n');
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.seq += 1;
        self.records.insert(volume.to_string(), next.clone());
        Ok(next)
    }
}

/// Replays the journal at `path` (missing: empty). Returns the records, the
/// last sequence number and the length of its whole lines.
fn replay(path: &Path) -> Result<(BTreeMap<String, VolumeRecord>, u64, u64), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut records = BTreeMap::new();
    let (mut seq, mut good_len) = (0u64, 0u64);
    if path.exists() {
        let file = File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        let reader = BufReader::new(file);
        let mut lines = reader.split(b'\n').enumerate().peekable();
        while let Some((i, line)) = lines.next() {
            let line = line.map_err(io)?;
            let last = lines.peek().is_none();
            match serde_json::from_slice::<Entry>(&line) {
                Ok(e) => {
                    let r = records
                        .entry(e.volume.clone())
                        .or_insert_with(|| VolumeRecord::new(&e.volume));
                    apply(r, &e.transition).map_err(|err| JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: err.to_string(),
                    })?;
                    seq = e.seq;
                    good_len += line.len() as u64 + 1;
                }
                // Torn only if a crash cut it: a whole line (its newline written)
                // that does not parse, say from a newer version, is not cut off.
                Err(_) if last && good_len + line.len() as u64 == file_len => {
                    tracing::warn!(journal = %path.display(), line = i + 1, "dropping a torn last line");
                }
                Err(err) => {
                    return Err(JournalError::Corrupt {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: err.to_string(),
                    })
                }
            }
        }
    }
    Ok((records, seq, good_len))
}

impl Journal {
    /// Brings journaled records of an earlier run to where this run resumes;
    /// a volume with none is journaled `planned` (known before it starts).
    pub fn resume(&mut self, volumes: &[crate::openstack::Volume]) -> Result<(), JournalError> {
        self.resume_except(volumes, &Default::default())
    }

    /// [`Self::resume`]; a failed or aborted volume in `start_over` is left so, for its start-over.
    pub fn resume_except(
        &mut self,
        volumes: &[crate::openstack::Volume],
        start_over: &std::collections::HashSet<String>,
    ) -> Result<(), JournalError> {
        for vol in volumes {
            let Some(rec) = self.get(&vol.id).cloned() else {
                // Known before it starts: a stop before then leaves it to resume.
                self.record(&vol.id, Transition::Planned)?;
                continue;
            };
            match rec.phase {
                Phase::Exporting | Phase::Transferring | Phase::Syncing | Phase::CuttingOver => {
                    self.record(&vol.id, Transition::Resumed)?;
                }
                Phase::Failed | Phase::Aborted if start_over.contains(&vol.id) => {}
                Phase::Failed | Phase::Aborted | Phase::BackupFailed => {
                    self.record(&vol.id, Transition::Retry)?;
                }
                _ => {}
            }
            let rec = self.get(&vol.id).cloned().unwrap_or_else(|| VolumeRecord::new(&vol.id));
            if rec.phase == Phase::Exported {
                // A streamed copy (no export file) stays only once its import is
                // verified. A file is forgotten only when it is gone or cut short:
                // one that cannot be looked at (an unmounted disk, EACCES) stops
                // the run, as an export made afresh may not match the verified copy.
                let intact = match rec.export.as_ref() {
                    None => false,
                    Some(e) if e.no_file => rec.import == super::Track::Succeeded,
                    Some(e) => match std::fs::metadata(&e.path) {
                        Ok(m) => m.len() == e.size,
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => false,
                        Err(source) => {
                            return Err(JournalError::ExportUnreadable {
                                volume: vol.id.clone(),
                                path: e.path.clone(),
                                source,
                            })
                        }
                    },
                };
                // A cut-over volume's file is read back from the new image instead.
                let cut_over = rec.sync.as_ref().is_some_and(|s| s.final_round);
                if !intact && !cut_over {
                    self.record(&vol.id, Transition::ExportLost)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Phase, VolumeExport};

    #[test]
    fn replays_after_reopen_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("p/journal.jsonl");
        let mut j = Journal::open(&path).expect("open");
        j.record("a", Transition::ExportStarted).expect("ok");
        let export = VolumeExport {
            path: "/x".into(),
            size: 1,
            data_bytes: 1,
            hash: "h".into(),
            staged: true,
            taken_at: None,
            live: false,
            locked: false,
            sync_snap: false,
            no_file: false,
            streamed_tape: None,
            read_back: None,
        };
        j.record("a", Transition::ExportDone { export, seconds: 0.5 })
            .expect("ok");
        j.record("b", Transition::ExportStarted).expect("ok");
        assert!(
            j.record("b", Transition::Cleaned).is_err(),
            "illegal transitions are refused"
        );
        drop(j);
        // A crash mid-write leaves half a line.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"seq":4,"at":"x","volume":"b","t":"exp"#)
            .expect("write");
        drop(f);
        let mut j = Journal::open(&path).expect("reopen");
        assert_eq!(j.get("a").map(|r| r.phase), Some(Phase::Exported));
        assert_eq!(j.get("b").map(|r| r.phase), Some(Phase::Exporting));
        j.record("b", Transition::Resumed).expect("appends after the cut tail");
        drop(j);
        let j = Journal::open(&path).expect("reopen");
        assert_eq!(j.get("b").map(|r| r.phase), Some(Phase::Queued));
        drop(j);
        // A short write that stopped just before its newline: the entry is whole.
        let text = std::fs::read(&path).expect("read");
        std::fs::write(&path, &text[..text.len() - 1]).expect("write");
        let mut j = Journal::open(&path).expect("reopen");
        assert_eq!(j.get("b").map(|r| r.phase), Some(Phase::Queued));
        j.record("b", Transition::ExportStarted)
            .expect("appends on a line of its own");
        drop(j);
        let j = Journal::open(&path).expect("both entries still read");
        assert_eq!(j.get("b").map(|r| r.phase), Some(Phase::Exporting));
        drop(j);
        // A whole last line this version cannot read (a newer one wrote it): not cut.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"seq\":9,\"at\":\"x\",\"volume\":\"b\",\"t\":\"future\"}\n")
            .expect("write");
        drop(f);
        let len = std::fs::metadata(&path).expect("len").len();
        let Err(e) = Journal::open(&path) else {
            panic!("a line it cannot read was taken")
        };
        assert!(matches!(e, JournalError::Corrupt { .. }), "{e}");
        assert_eq!(std::fs::metadata(&path).expect("len").len(), len, "nothing cut");
    }

    #[test]
    fn one_writer_at_a_time_and_readers_never_cut() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("journal.jsonl");
        let mut j = Journal::open(&path).expect("open");
        j.record("a", Transition::ExportStarted).expect("ok");
        let e = Journal::open(&path).err().expect("a second writer is refused");
        assert!(matches!(e, JournalError::Busy { .. }), "{e}");
        assert!(e.to_string().contains("another stackmigrate"), "{e}");
        // A writer mid-append: the reader skips the torn line and leaves it.
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(br#"{"seq":2,"at":"x","#).expect("write");
        let len = std::fs::metadata(&path).expect("meta").len();
        let seen = Journal::read(&path).expect("read while locked");
        assert_eq!(seen.iter().map(|r| r.phase).collect::<Vec<_>>(), vec![Phase::Exporting]);
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), len, "nothing cut");
        drop(j);
        Journal::open(&path).expect("free again once the writer is gone");
    }

    #[test]
    fn a_corrupt_middle_line_names_the_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(
            &path,
            "garbage\n{\"seq\":1,\"at\":\"x\",\"volume\":\"a\",\"t\":\"export_started\"}\n",
        )
        .expect("write");
        let e = Journal::open(&path).err().expect("corrupt");
        assert!(e.to_string().contains("journal.jsonl:1"), "{e}");
    }

    /// An export file that cannot be looked at (here ENOTDIR; EACCES or an
    /// unmounted disk alike) stops the resume, naming it: the journal keeps
    /// the file, and only a file that is gone is exported afresh.
    #[test]
    fn an_export_that_cannot_be_looked_at_stops_the_resume_and_is_not_forgotten() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("journal.jsonl");
        std::fs::write(dir.path().join("not-a-dir"), b"x").expect("file");
        let mut j = Journal::open(&path).expect("open");
        let export = VolumeExport {
            path: dir.path().join("not-a-dir/volume-a.raw"),
            size: 1,
            data_bytes: 1,
            hash: "h".into(),
            staged: false,
            taken_at: None,
            live: false,
            locked: false,
            sync_snap: false,
            no_file: false,
            streamed_tape: None,
            read_back: None,
        };
        let gone = VolumeExport {
            path: dir.path().join("volume-b.raw"),
            ..export.clone()
        };
        for (id, export) in [("a", export), ("b", gone)] {
            j.record(id, Transition::ExportStarted).expect("ok");
            j.record(id, Transition::ExportDone { export, seconds: 0.5 })
                .expect("ok");
        }
        let vol = |id: &str| -> crate::openstack::Volume {
            serde_json::from_value(serde_json::json!({"id": id, "size": 1, "status": "available"})).expect("volume")
        };
        j.resume(&[vol("b")]).expect("a file that is gone is exported afresh");
        assert_eq!(j.get("b").map(|r| r.phase), Some(Phase::Queued));
        let e = j.resume(&[vol("a")]).expect_err("stops");
        assert!(matches!(e, JournalError::ExportUnreadable { .. }), "{e}");
        assert!(
            e.to_string().contains("volume a") && e.to_string().contains("not-a-dir"),
            "{e}"
        );
        assert_eq!(j.get("a").map(|r| r.phase), Some(Phase::Exported), "not forgotten");
    }
}

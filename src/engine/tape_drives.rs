//! `tape.drives`: each tape job holds a drive of its own, named to its
//! command as `{drive}`, and gives it back when it ends. As many jobs run at
//! once as there are drives (the tape semaphore's size).

use super::worker::{slot, Worker};
use crate::storage::{StreamedTape, VolumeExport};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::SemaphorePermit;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Default)]
pub struct DrivePool(Mutex<Drives>);

#[derive(Debug, Default)]
struct Drives {
    free: Vec<String>,
    /// The drive each volume's tape job holds.
    held: HashMap<String, String>,
    /// The drive each volume's last tape job held (this run).
    last: HashMap<String, String>,
}

impl DrivePool {
    pub fn new(drives: &[String]) -> Self {
        Self(Mutex::new(Drives {
            free: drives.iter().rev().cloned().collect(),
            ..Default::default()
        }))
    }

    fn drives(&self) -> std::sync::MutexGuard<'_, Drives> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A free drive for `volume`'s tape job until the lease drops; none
    /// where no drives are listed.
    pub fn lease(self: &Arc<Self>, volume: &str) -> DriveLease {
        let mut d = self.drives();
        let drive = d.free.pop();
        if let Some(drive) = &drive {
            d.held.insert(volume.to_string(), drive.clone());
            d.last.insert(volume.to_string(), drive.clone());
        }
        DriveLease {
            pool: self.clone(),
            volume: volume.to_string(),
            drive,
        }
    }

    /// The drive `volume`'s last tape job held in this run: where its copy
    /// went (a tape streamed during the export took no drive since).
    pub fn last_of(&self, volume: &str) -> Option<String> {
        self.drives().last.get(volume).cloned()
    }

    /// The drive `volume`'s tape job holds now.
    pub fn of(&self, volume: &str) -> Option<String> {
        self.drives().held.get(volume).cloned()
    }
}

pub struct DriveLease {
    pool: Arc<DrivePool>,
    volume: String,
    drive: Option<String>,
}

impl Drop for DriveLease {
    fn drop(&mut self) {
        let Some(drive) = self.drive.take() else { return };
        let mut d = self.pool.drives();
        if d.held.get(&self.volume) == Some(&drive) {
            d.held.remove(&self.volume);
        }
        d.free.push(drive);
    }
}

/// A tape job's drive and slot; the drive goes back before the slot, so
/// the job the slot wakes finds it free.
pub(super) type TapeSlot<'a> = (DriveLease, SemaphorePermit<'a>);

impl Worker {
    /// A tape slot for `volume`, and the drive it writes to (if drives are
    /// listed); none once `cancel` fires.
    async fn tape_slot(&self, volume: &str, cancel: &CancellationToken) -> Option<TapeSlot<'_>> {
        let permit = slot(&self.limits.tape, cancel).await?;
        Some((self.pipeline.drives.lease(volume), permit))
    }

    /// The slot of an export that feeds the tape from its stream
    /// (`streams`), else none.
    pub(super) async fn streamed_tape_slot(
        &self,
        streams: bool,
        volume: &str,
        cancel: &CancellationToken,
    ) -> Option<TapeSlot<'_>> {
        match streams {
            true => self.tape_slot(volume, cancel).await,
            false => None,
        }
    }

    /// The tape half's slot: none needed (`Some(None)`) for a tape the
    /// export already streamed whole; `None` once `cancel` fires.
    pub(super) async fn tape_half_slot(
        &self,
        export: &VolumeExport,
        volume: &str,
        cancel: &CancellationToken,
    ) -> Option<Option<TapeSlot<'_>>> {
        if export.no_file && matches!(export.streamed_tape, Some(StreamedTape::Done)) {
            return Some(None);
        }
        self.tape_slot(volume, cancel).await.map(Some)
    }
}

/// `command` with `{drive}` replaced by `drive`; an error where it names a
/// drive and none is held.
pub fn with_drive(command: &[String], drive: Option<&str>) -> Result<Vec<String>, String> {
    if !command.iter().any(|a| a.contains("{drive}")) {
        return Ok(command.to_vec());
    }
    let Some(d) = drive else {
        return Err(
            "the tape command names {drive} and this job holds no drive (tape.drives lists none, or none was free)"
                .into(),
        );
    };
    Ok(command.iter().map(|a| a.replace("{drive}", d)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_job_holds_a_drive_of_its_own_and_gives_it_back() {
        let pool = Arc::new(DrivePool::new(&["/dev/nst0".into(), "/dev/nst1".into()]));
        let a = pool.lease("a");
        let b = pool.lease("b");
        assert_eq!(
            (pool.of("a").as_deref(), pool.of("b").as_deref()),
            (Some("/dev/nst0"), Some("/dev/nst1"))
        );
        drop(a);
        assert_eq!((pool.of("a"), pool.last_of("a").as_deref()), (None, Some("/dev/nst0")));
        let c = pool.lease("c");
        assert_eq!(pool.of("c").as_deref(), Some("/dev/nst0"), "a's drive, given back");
        drop((b, c));
        let none = Arc::new(DrivePool::default()).lease("x");
        assert!(none.drive.is_none(), "no drives listed");
        let cmd: Vec<String> = vec!["dd".into(), "of={drive}".into()];
        assert_eq!(
            with_drive(&cmd, Some("/dev/nst1")).expect("named"),
            vec!["dd", "of=/dev/nst1"]
        );
        assert!(with_drive(&cmd, None).expect_err("none held").contains("tape.drives"));
        assert_eq!(with_drive(&["cat".into()], None).expect("no {drive}"), vec!["cat"]);
    }
}

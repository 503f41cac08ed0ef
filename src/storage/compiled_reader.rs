//! The compiled delta reader (`assets/rbd_delta_reader.cc`), built by
//! `build.rs` where a C++ compiler and Ceph's development headers are
//! installed, and carried inside stackmigrate's own binary. It does what the
//! Python reader does for a warm-sync round (`go` and `lock`), with the same
//! arguments and the same stream, but reads each changed piece of an image
//! from its RADOS object with `sparse_read`: the holes of objects created
//! since the last round are neither read nor compared (docs/decisions.md,
//! "The delta reader is compiled where the Ceph headers are").
//!
//! It runs from an anonymous memory file (`memfd_create`), so nothing is
//! written to disk and no directory needs to allow execution. Before the
//! first round, [`CompiledReader::probe`] runs it once with `--probe`: its
//! libraries must load and be the librados release it was compiled against.
//! Where it is not built, or the probe fails, or [`READER_ENV`] says
//! `python`, rounds are read by the Python reader.

use super::child_process::{within, ChildProcess};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The executable, or empty where `build.rs` could not build it.
const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rbd_delta_reader"));
/// `python`: read rounds with the Python reader even where the compiled one runs.
pub const READER_ENV: &str = "STACKMIGRATE_DELTA_READER";
const PROBE_LIMIT: Duration = Duration::from_secs(30);
static PROBE: tokio::sync::OnceCell<Option<CompiledReader>> = tokio::sync::OnceCell::const_new();

/// The compiled reader, ready to run (one per process).
#[derive(Debug)]
pub struct CompiledReader {
    /// Kept open for the process's life: [`CompiledReader::path`] names it.
    file: std::fs::File,
}

impl CompiledReader {
    /// Whether this build carries the compiled reader.
    pub fn built() -> bool {
        !BINARY.is_empty()
    }

    /// The path to run it by (the memory file, through `/proc/self/fd`).
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }

    /// The reader, once this process has checked that it runs here; `None`:
    /// use the Python reader (said once in the log, with why).
    pub async fn probe() -> Option<&'static CompiledReader> {
        PROBE
            .get_or_init(|| async {
                let found = Self::load().await;
                match &found {
                    Ok(_) => {
                        tracing::info!("warm-sync rounds are read by the compiled delta reader (sparse object reads)")
                    }
                    Err(why) => tracing::info!("warm-sync rounds are read by the Python delta reader: {why}"),
                }
                found.ok()
            })
            .await
            .as_ref()
    }

    /// The reader if [`CompiledReader::probe`] has found it usable, without waiting.
    pub fn ready() -> Option<&'static CompiledReader> {
        PROBE.get().and_then(Option::as_ref)
    }

    async fn load() -> Result<CompiledReader, String> {
        if std::env::var(READER_ENV).is_ok_and(|v| v == "python") {
            return Err(format!("{READER_ENV}=python"));
        }
        if !Self::built() {
            return Err(
                "this build has no compiled reader (no C++ compiler or Ceph headers where it was built)".into(),
            );
        }
        let reader = Self::in_memory().map_err(|e| format!("cannot hold the compiled reader in memory: {e}"))?;
        let argv = [reader.path(), "--probe".into()];
        let child = ChildProcess::spawn(&argv, false, false).map_err(|e| format!("it does not start: {e}"))?;
        match within(PROBE_LIMIT, async move |t| child.wait(t).await).await.0 {
            Ok(exit) if exit.success() => Ok(reader),
            Ok(exit) => Err(format!(
                "its probe failed ({exit:?}): librados or librbd is missing, or of another release than it was built against"
            )),
            Err(e) => Err(format!("its probe failed: {e}")),
        }
    }

    fn in_memory() -> std::io::Result<CompiledReader> {
        use rustix::fs::{memfd_create, MemfdFlags};
        let fd = memfd_create("stackmigrate-delta-reader", MemfdFlags::CLOEXEC)?;
        let mut file = std::fs::File::from(fd);
        file.write_all(BINARY)?;
        file.flush()?;
        Ok(CompiledReader { file })
    }
}

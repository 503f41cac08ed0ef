//! The compiled Ceph helper (`assets/rbd_helper.cc`), built by `build.rs`
//! where a C++ compiler and Ceph's development headers are installed, and
//! carried inside stackmigrate's own binary. For a warm-sync round it does
//! what the Python helpers do, with the same arguments and the same streams:
//! `read` is the delta reader (`go` and `lock`), which reads each changed
//! piece of an image from its RADOS object with `sparse_read`, so the holes
//! of objects created since the last round are neither read nor compared;
//! `write` is the round's writer with read-back, without an interpreter
//! (docs/decisions.md, "The round's helpers are compiled where the Ceph
//! headers are").
//!
//! It runs from an anonymous memory file (`memfd_create`), so nothing is
//! written to disk and no directory needs to allow execution. Before the
//! first round, [`CompiledHelper::probe`] runs it once with `--probe`: its
//! libraries must load and be the librados release it was compiled against.
//! Where it is not built, or the probe fails, or [`HELPER_ENV`] says
//! `python`, rounds use the Python helpers.

use super::child_process::{within, ChildProcess};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// The executable, or empty where `build.rs` could not build it.
const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/rbd_helper"));
/// `python`: rounds use the Python helpers even where the compiled one runs.
pub const HELPER_ENV: &str = "STACKMIGRATE_RBD_HELPER";
const PROBE_LIMIT: Duration = Duration::from_secs(30);
static PROBE: tokio::sync::OnceCell<Option<CompiledHelper>> = tokio::sync::OnceCell::const_new();

/// The compiled helper, ready to run (one per process).
#[derive(Debug)]
pub struct CompiledHelper {
    /// Kept open for the process's life: [`CompiledHelper::path`] names it.
    file: std::fs::File,
}

impl CompiledHelper {
    /// Whether this build carries the compiled helper.
    pub fn built() -> bool {
        !BINARY.is_empty()
    }

    /// The path to run it by (the memory file, through `/proc/self/fd`).
    pub fn path(&self) -> String {
        format!("/proc/self/fd/{}", self.file.as_raw_fd())
    }

    /// The helper, once this process has checked that it runs here; `None`:
    /// use the Python helpers (said once in the log, with why).
    pub async fn probe() -> Option<&'static CompiledHelper> {
        PROBE
            .get_or_init(|| async {
                let found = Self::load().await;
                match &found {
                    Ok(_) => {
                        tracing::info!(
                            "warm-sync rounds use the compiled Ceph helper (sparse object reads, no interpreter)"
                        )
                    }
                    Err(why) => tracing::info!("warm-sync rounds use the Python helpers: {why}"),
                }
                found.ok()
            })
            .await
            .as_ref()
    }

    /// The helper if [`CompiledHelper::probe`] has found it usable, without waiting.
    pub fn ready() -> Option<&'static CompiledHelper> {
        PROBE.get().and_then(Option::as_ref)
    }

    async fn load() -> Result<CompiledHelper, String> {
        if std::env::var(HELPER_ENV).is_ok_and(|v| v == "python") {
            return Err(format!("{HELPER_ENV}=python"));
        }
        if !Self::built() {
            return Err(
                "this build has no compiled helper (no C++ compiler or Ceph headers where it was built)".into(),
            );
        }
        let reader = Self::in_memory().map_err(|e| format!("cannot hold the compiled helper in memory: {e}"))?;
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

    fn in_memory() -> std::io::Result<CompiledHelper> {
        use rustix::fs::{memfd_create, MemfdFlags};
        let fd = memfd_create("stackmigrate-rbd-helper", MemfdFlags::CLOEXEC)?;
        let mut file = std::fs::File::from(fd);
        file.write_all(BINARY)?;
        file.flush()?;
        Ok(CompiledHelper { file })
    }
}

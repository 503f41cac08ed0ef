//! Verification while the copy is made: the staging writer that reads back.
//!
//! `rbd import-diff -` cannot say when an extent is durable, and the rbd CLI
//! cannot read a range. So where the cluster's Python bindings are installed
//! (`python3-rbd`, a dependency of Debian's and Red Hat's `ceph-common`), the
//! stage is fed to `assets/rbd_stage_readback.py` instead: it applies the
//! same diff stream with the librbd cache off and, as each write completes,
//! asks the new cluster's OSDs for the xxHash64 of each 64 KiB piece of that
//! extent, computed from what they read from their store, and sends those
//! on in the input's order. [`ReadBack`] collects them; the export checks
//! they are the hashes of the pieces it sent ([`super::record_trail`]), so
//! when the stage ends the copy is known to hold the export's bytes: every
//! byte was read by the new cluster after its write was acknowledged, and
//! the whole-image read after the import is no longer needed. Without the
//! bindings the stage is `rbd import-diff` and verification reads the image
//! afterwards, as before.
//! (A warm-sync round's writer sends the bytes read back instead: they are
//! compared with the export file.)

use super::child_process::{within, ChildProcess};
use super::compiled_helper::CompiledHelper;
use super::record_trail::{read_confirmations, Sealed};
use super::{DataPathError, RbdError};
use crate::config::CephConfig;
use std::fs::File;

/// The interpreter whose `rbd` module comes with the cluster's packages (a
/// virtualenv's or pyenv's `python3` on `PATH` usually lacks it).
pub const PYTHON: &str = "/usr/bin/python3";
/// The staging writer: `assets/rados_checksums.py` (its checksum client),
/// then `assets/rbd_stage_readback.py`, run as one script.
pub const SCRIPT: &str = concat!(
    include_str!("../../assets/rados_checksums.py"),
    include_str!("../../assets/rbd_stage_readback.py")
);
const DELTA_READER: &str = include_str!("../../assets/rbd_delta_reader.py");
/// Set (to anything but empty) to use the rbd CLI only, as where the
/// bindings are missing.
pub const CLI_ONLY_ENV: &str = "STACKMIGRATE_RBD_CLI_ONLY";
/// Bytes written but not yet read back and sent on, at most (plus one record).
const WINDOW: u64 = 32 << 20;

/// How long the probe for the helpers' Python modules may take.
const PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts [`available`]'s probe (an interpreter start, 0.1 s) now, so that a
/// run's first round or copy finds the answer ready.
pub fn probe_in_background() {
    tokio::spawn(available());
}

/// Whether `PYTHON` can import `rados` and `rbd`, and librados has the
/// checksum op the stage's verification asks for; asked once per process.
pub async fn available() -> bool {
    static PROBE: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    *PROBE
        .get_or_init(|| async {
            if std::env::var_os(CLI_ONLY_ENV).is_some_and(|v| !v.is_empty()) {
                tracing::info!(
                    "{CLI_ONLY_ENV} is set: images are written with rbd import-diff and read back afterwards, and rounds are read with rbd export-diff"
                );
                return false;
            }
            let argv = [
                PYTHON,
                "-c",
                "import ctypes, rados, rbd; ctypes.CDLL('librados.so.2').rados_read_op_checksum; rbd.Image.data_pool_id",
            ]
            .map(String::from);
            // An import that hangs (a broken install) counts as no helper.
            let probe = match ChildProcess::spawn(&argv, false, false) {
                Ok(child) => within(PROBE_LIMIT, async move |t| child.wait(t).await).await.0,
                Err(e) => Err(e),
            };
            let ok = probe.is_ok_and(|exit| exit.success());
            if ok {
                // Rounds then read with it, if it runs here: known before the first.
                CompiledHelper::probe().await;
            } else {
                tracing::info!(
                    "{PYTHON} cannot import rados and rbd (python3-rbd), or librados has no checksum op: the staging image is written with rbd import-diff and read back after the import"
                );
            }
            ok
        })
        .await
}

/// Starts the read-back writer into `image` (`pool/image` of `ceph`), in
/// checksum mode ([`super::record_trail`]). Returns the child, its stdin (a
/// diff stream goes there) and the thread that reads its confirmations.
pub fn spawn(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
) -> Result<(ChildProcess, File, ReadBack), DataPathError> {
    let (child, stdin, stdout) = spawn_writer(ceph, connect_timeout, image, None, None, true)?;
    let read_back = ReadBack::spawn(stdout).map_err(|e| spawn_error("read-back stage", &e))?;
    Ok((child, stdin, read_back))
}

/// The read-back writer into `image`: its stdin takes a diff stream, its
/// stdout gives what was read back, as a diff stream in the same order
/// (`checksum`: the new cluster's hashes of each record's pieces instead).
/// With `drop_snaps`, the image's snapshots named so (a prefix) are removed
/// while the stream is applied, from its first change on. With `base` (a
/// warm-sync round's), its stdout first answers the guard
/// ([`super::target_facts`]).
pub fn spawn_writer(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
    drop_snaps: Option<&str>,
    base: Option<&str>,
    checksum: bool,
) -> Result<(ChildProcess, File, File), DataPathError> {
    let args = [
        image,
        &WINDOW.to_string(),
        drop_snaps.unwrap_or("-"),
        base.unwrap_or("-"),
        if checksum { "checksum" } else { "bytes" },
    ];
    // The compiled writer sends bytes only; a cold export's stage (checksums) is the Python one's.
    let mut child = match CompiledHelper::ready() {
        Some(compiled) if !checksum => {
            let program = [compiled.path(), "write".into()];
            helper(ceph, connect_timeout, &program, "rbd_helper write", &args)?
        }
        _ => python(ceph, connect_timeout, (SCRIPT, "rbd_stage_readback.py"), &args, true)?,
    };
    let stdin = child
        .take_stdin()
        .ok_or_else(|| DataPathError::Child("no stdin".into()))?;
    let stdout = child
        .take_stdout()
        .ok_or_else(|| DataPathError::Child("no stdout".into()))?;
    Ok((child, stdin, stdout))
}

/// The warm-sync delta reader: what changed in `image` between snapshots
/// `from` and `to`, on the child's stdout as a diff stream in which zero
/// pieces of `block` bytes are `z` records (`assets/rbd_delta_reader.py`).
/// It connects, then waits for `go` or `lock` on its stdin (snapshot `to`
/// is taken). The compiled helper where [`CompiledHelper::probe`] found it
/// usable (the same stream, with holes not read), else the Python reader.
pub fn spawn_delta_reader(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
    (from, to): (&str, &str),
    block: u64,
) -> Result<ChildProcess, DataPathError> {
    let Some(compiled) = CompiledHelper::ready() else {
        return spawn_python_reader(ceph, connect_timeout, image, (from, to), block);
    };
    let program = [compiled.path(), "read".into()];
    let args = reader_args(image, (from, to), block);
    helper(
        ceph,
        connect_timeout,
        &program,
        "rbd_helper read",
        &args.each_ref().map(|a| a.as_str()),
    )
}

/// Both readers' arguments after the cluster's.
fn reader_args(image: &str, (from, to): (&str, &str), block: u64) -> [String; 5] {
    [image, from, to, &block.to_string(), &WINDOW.to_string()].map(String::from)
}

/// `assets/rbd_delta_reader.py`, whatever [`spawn_delta_reader`] would
/// choose: the only reader that can `hold` a lock ([`super::lock_holder`]).
pub fn spawn_python_reader(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
    (from, to): (&str, &str),
    block: u64,
) -> Result<ChildProcess, DataPathError> {
    let args = reader_args(image, (from, to), block);
    let args = args.each_ref().map(|a| a.as_str());
    python(
        ceph,
        connect_timeout,
        (DELTA_READER, "rbd_delta_reader.py"),
        &args,
        true,
    )
}

fn spawn_error(op: &str, e: &dyn std::fmt::Display) -> DataPathError {
    RbdError::Spawn {
        op: op.into(),
        message: e.to_string(),
    }
    .into()
}

/// `PYTHON -c <script> conf id keyring|- timeout pool <args…>`, in its own
/// process group like every child.
fn python(
    ceph: &CephConfig,
    connect_timeout: u32,
    (script, name): (&str, &str),
    args: &[&str],
    stdin: bool,
) -> Result<ChildProcess, DataPathError> {
    let program = [PYTHON, "-c", script].map(String::from);
    let mut child = helper_child(ceph, connect_timeout, &program, name, args, stdin)?;
    child.label = format!("{PYTHON} {name} {}/{}", ceph.pool, args.first().unwrap_or(&""));
    Ok(child)
}

/// `program conf id keyring|- timeout pool <args…>`, its stdin piped.
fn helper(
    ceph: &CephConfig,
    connect_timeout: u32,
    program: &[String],
    name: &str,
    args: &[&str],
) -> Result<ChildProcess, DataPathError> {
    let mut child = helper_child(ceph, connect_timeout, program, name, args, true)?;
    child.label = format!("{name} {}/{}", ceph.pool, args.first().unwrap_or(&""));
    Ok(child)
}

fn helper_child(
    ceph: &CephConfig,
    connect_timeout: u32,
    program: &[String],
    name: &str,
    args: &[&str],
    stdin: bool,
) -> Result<ChildProcess, DataPathError> {
    let keyring = ceph
        .keyring
        .as_ref()
        .map_or("-".to_string(), |k| k.display().to_string());
    let conf = ceph.conf.display().to_string();
    let timeout = connect_timeout.to_string();
    let head = [&conf, &ceph.id, &keyring, &timeout, &ceph.pool];
    let argv: Vec<String> = program
        .iter()
        .cloned()
        .chain(head.iter().map(|s| s.to_string()))
        .chain(args.iter().map(|s| s.to_string()))
        .collect();
    ChildProcess::spawn(&argv, stdin, true).map_err(|e| spawn_error(name, &e))
}

/// The thread reading the writer's checksums (checksum mode).
pub struct ReadBack {
    thread: std::thread::JoinHandle<Result<Sealed, String>>,
}

impl ReadBack {
    pub fn spawn(from: File) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("read-back".into())
            .spawn(move || read_confirmations(from))?;
        Ok(Self { thread })
    }

    /// The trail of the pieces the new cluster hashed, once the writer's reply ended.
    pub async fn result(self) -> Result<Sealed, String> {
        tokio::task::spawn_blocking(move || self.thread.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "the read-back thread panicked".to_string())?
    }
}

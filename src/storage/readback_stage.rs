//! Verification while the copy is made: the staging writer that reads back.
//!
//! `rbd import-diff -` cannot say when an extent is durable, and the rbd CLI
//! cannot read a range. So where the cluster's Python bindings are installed
//! (`python3-rbd`, a dependency of Debian's and Red Hat's `ceph-common`), the
//! stage is fed to `assets/rbd_stage_readback.py` instead: it applies the
//! same diff stream with the librbd cache off and, as each write completes,
//! reads that extent back from the new cluster and sends the bytes read on
//! its stdout, as a diff stream in the input's order. [`ReadBack`] hashes
//! that stream exactly as verification hashes `rbd export-diff` of the image,
//! so when the stage ends its checksum is known: every byte was read from
//! the new cluster after its write was acknowledged, and the whole-image read
//! after the import is no longer needed. Without the bindings the stage is
//! `rbd import-diff` and verification reads the image afterwards, as before.

use super::child_process::ChildProcess;
use super::rbd_diff::read_diff;
use super::sparse_hash::{Scheme, SparseHasher};
use super::{DataPathError, RbdError};
use crate::config::CephConfig;
use std::fs::File;
use std::io::BufReader;

/// The interpreter whose `rbd` module comes with the cluster's packages (a
/// virtualenv's or pyenv's `python3` on `PATH` usually lacks it).
pub const PYTHON: &str = "/usr/bin/python3";
const SCRIPT: &str = include_str!("../../assets/rbd_stage_readback.py");
const DELTA_READER: &str = include_str!("../../assets/rbd_delta_reader.py");
/// Set (to anything but empty) to use the rbd CLI only, as where the
/// bindings are missing.
pub const CLI_ONLY_ENV: &str = "STACKMIGRATE_RBD_CLI_ONLY";
/// Bytes written but not yet read back and sent on, at most (plus one record).
const WINDOW: u64 = 32 << 20;

/// Starts [`available`]'s probe (an interpreter start, 0.1 s) now, so that a
/// run's first round or copy finds the answer ready.
pub fn probe_in_background() {
    tokio::spawn(available());
}

/// Whether `PYTHON` can import `rados` and `rbd`; asked once per process.
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
            let probe = tokio::process::Command::new(PYTHON)
                .args(["-c", "import rados, rbd"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
            let ok = matches!(probe, Ok(s) if s.success());
            if !ok {
                tracing::info!(
                    "{PYTHON} cannot import rados and rbd (python3-rbd): the staging image is written with rbd import-diff and read back after the import"
                );
            }
            ok
        })
        .await
}

/// Starts the read-back writer into `image` (`pool/image` of `ceph`).
/// Returns the child, its stdin (a diff stream goes there) and the thread
/// that hashes what it reads back.
pub fn spawn(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
) -> Result<(ChildProcess, File, ReadBack), DataPathError> {
    let (child, stdin, stdout) = spawn_writer(ceph, connect_timeout, image, None, None)?;
    let read_back = ReadBack::spawn(stdout).map_err(|e| spawn_error("read-back stage", &e))?;
    Ok((child, stdin, read_back))
}

/// The read-back writer into `image`: its stdin takes a diff stream, its
/// stdout gives what was read back, as a diff stream in the same order.
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
) -> Result<(ChildProcess, File, File), DataPathError> {
    let mut child = python(
        ceph,
        connect_timeout,
        (SCRIPT, "rbd_stage_readback.py"),
        &[
            image,
            &WINDOW.to_string(),
            drop_snaps.unwrap_or("-"),
            base.unwrap_or("-"),
        ],
        true,
    )?;
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
/// It connects, then waits for `go` on its stdin (snapshot `to` is taken).
pub fn spawn_delta_reader(
    ceph: &CephConfig,
    connect_timeout: u32,
    image: &str,
    from: &str,
    to: &str,
    block: u64,
) -> Result<ChildProcess, DataPathError> {
    python(
        ceph,
        connect_timeout,
        (DELTA_READER, "rbd_delta_reader.py"),
        &[image, from, to, &block.to_string(), &WINDOW.to_string()],
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
    let keyring = ceph
        .keyring
        .as_ref()
        .map_or("-".to_string(), |k| k.display().to_string());
    let conf = ceph.conf.display().to_string();
    let timeout = connect_timeout.to_string();
    let head = [PYTHON, "-c", script, &conf, &ceph.id, &keyring, &timeout, &ceph.pool];
    let argv: Vec<String> = head.iter().chain(args).map(|s| s.to_string()).collect();
    let mut child = ChildProcess::spawn(&argv, stdin, true).map_err(|e| spawn_error(name, &e))?;
    child.label = format!("{PYTHON} {name} {}/{}", ceph.pool, args.first().unwrap_or(&""));
    Ok(child)
}

/// The thread hashing the bytes read back, in the scheme exports are written in.
pub struct ReadBack {
    thread: std::thread::JoinHandle<Result<(String, u64), String>>,
}

impl ReadBack {
    pub fn spawn(from: File) -> std::io::Result<Self> {
        let thread = std::thread::Builder::new()
            .name("read-back".into())
            .spawn(move || hash_stream(from))?;
        Ok(Self { thread })
    }

    /// The checksum and size of what was read back, once the stream ended.
    pub async fn result(self) -> Result<(String, u64), String> {
        tokio::task::spawn_blocking(move || self.thread.join())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "the read-back thread panicked".to_string())?
    }
}

fn hash_stream(from: impl std::io::Read) -> Result<(String, u64), String> {
    let mut hasher = SparseHasher::with_scheme(Scheme::CURRENT);
    // Small buffers: one of these runs per export in flight (peak RSS goal).
    let mut buf = vec![0u8; 64 << 10];
    let (size, _) = read_diff(BufReader::with_capacity(64 << 10, from), &mut hasher, &mut buf)
        .map_err(|e| format!("the stream read back: {e}"))?;
    Ok((hasher.finish(size), size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::rbd_diff::DiffWriter;

    /// The read-back stream hashes as the image it describes does.
    #[test]
    fn a_read_back_stream_hashes_as_its_image() {
        let size = 3 << 20;
        let mut stream = Vec::new();
        let mut w = DiffWriter::new(&mut stream, size).expect("header");
        let block: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8 + 1).collect();
        w.data(4096, &block).expect("data");
        w.data(2 << 20, &block[..1000]).expect("data");
        w.finish().expect("end");
        let mut image = vec![0u8; size as usize];
        image[4096..4096 + block.len()].copy_from_slice(&block);
        image[2 << 20..(2 << 20) + 1000].copy_from_slice(&block[..1000]);
        let mut hasher = SparseHasher::with_scheme(Scheme::CURRENT);
        hasher.write_at(0, &image);
        assert_eq!(hash_stream(&stream[..]), Ok((hasher.finish(size), size)));
    }

    /// A stream cut short is an error, never a checksum.
    #[test]
    fn a_short_stream_is_an_error() {
        let mut stream = Vec::new();
        let mut w = DiffWriter::new(&mut stream, 1 << 20).expect("header");
        w.data(0, &[7u8; 5000]).expect("data");
        let cut = &stream[..stream.len() - 100];
        let e = hash_stream(cut).expect_err("short");
        assert!(e.contains("the stream read back"), "{e}");
    }
}

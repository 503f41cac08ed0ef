//! The datapath bench's raw baselines: `rbd export - | rbd import -` between
//! the two clusters, `rbd export-diff | tee FILE | rbd import-diff`, the copy
//! read back whole (`rbd export-diff`, hashed), the pipe with an equal copy
//! read back beside it (with or without the export file written on the way
//! by `tee`), the pipe with the new cluster's OSD hashing an equal copy
//! beside it (the engine's checksum read-back, no byte sent), and the disk
//! under both clusters, read and written at once.

use super::common::{rbd, rbd_command, Meter};
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter};
use std::path::Path;
use std::process::{Command, Stdio};
use tokio_util::sync::CancellationToken;

pub fn raw_pipe(old: &str, new: &str, image: &str, dest: &str) -> (f64, f64) {
    RawCopy::new(image, dest).run(old, new)
}

/// The raw pipe while `rbd export` reads `beside` (an earlier raw copy of the
/// same image, as large) from the new cluster into `/dev/null`: the work of a
/// verified copy (the data read from the old cluster, written to the new one
/// and read back from it) by rbd alone, overlapped as well as two processes
/// can, with no hash and no comparison. A reference for a verified copy, not
/// a ceiling: ours reads back by the OSDs' checksums, which send no bytes.
pub fn raw_pipe_with_read_back(old: &str, new: &str, image: &str, dest: &str, beside: &str) -> (f64, f64) {
    RawCopy {
        beside: Some(beside),
        ..RawCopy::new(image, dest)
    }
    .run(old, new)
}

/// The raw pipe while the new cluster's OSD hashes every 64 KiB piece of
/// `beside` (an equal copy), asked as the engine's checksum writer asks
/// ([`checksum_pass`]): the least work of a copy verified in the new cluster
/// (read from the old cluster, written to the new one, read there once), with
/// nothing hashed on this side. A floor for ours, which also hashes what it sends.
pub fn raw_pipe_with_checksums(old: &str, new: &str, image: &str, dest: &str, beside: &str) -> (f64, f64) {
    RawCopy {
        beside: Some(beside),
        sums: true,
        ..RawCopy::new(image, dest)
    }
    .run(old, new)
}

/// `benches/checksum_pass.py` after the engine's `assets/rados_checksums.py`,
/// on `image` of the new cluster at `conf`; not yet waited for.
pub fn checksum_pass(conf: &str, image: &str) -> std::process::Child {
    let code = [
        include_str!("../assets/rados_checksums.py"),
        include_str!("checksum_pass.py"),
    ]
    .concat();
    Command::new("/usr/bin/python3")
        .args(["-c", &code, conf, image])
        .stdout(Stdio::null())
        .spawn()
        .expect("checksum pass")
}

/// The same, with the export file written on the way: `rbd export - | tee
/// FILE | rbd import -` beside the read-back. The work of a verified copy
/// that keeps its export file, by rbd and coreutils alone.
pub fn raw_pipe_with_read_back_and_file(
    old: &str,
    new: &str,
    (image, dest, beside): (&str, &str, &str),
    file: &Path,
) -> (f64, f64) {
    RawCopy {
        beside: Some(beside),
        file: Some(file),
        ..RawCopy::new(image, dest)
    }
    .run(old, new)
}

/// Issue 12's second raw baseline: `rbd export-diff IMAGE - | tee FILE | rbd
/// import-diff - DEST` (the live image, as ours reads a detached one: no
/// snapshot record; DEST, of `size` bytes, created first, untimed): what a copy that keeps its
/// export file does, by rbd and coreutils alone.
pub fn raw_diff_tee(old: &str, new: &str, (image, size): (&str, u64), dest: &str, file: &Path) -> (f64, f64) {
    rbd(
        new,
        &["create", "--size", &format!("{size}B"), &format!("volumes/{dest}")],
    );
    RawCopy {
        file: Some(file),
        diff: true,
        ..RawCopy::new(image, dest)
    }
    .run(old, new)
}

/// One raw copy from the old cluster's `image` into the new cluster's `dest`.
struct RawCopy<'a> {
    image: &'a str,
    dest: &'a str,
    /// An image of the new cluster read into `/dev/null` beside the copy.
    beside: Option<&'a str>,
    /// The export file, written by `tee` on the way and synced to disk before
    /// the clock stops (ours writes it with `O_DIRECT`); removed after.
    file: Option<&'a Path>,
    /// `export-diff | import-diff` instead of `export | import`.
    diff: bool,
    /// `beside` read by the OSD's checksums ([`checksum_pass`]), not `rbd export`.
    sums: bool,
}

impl<'a> RawCopy<'a> {
    fn new(image: &'a str, dest: &'a str) -> Self {
        Self {
            image,
            dest,
            beside: None,
            file: None,
            diff: false,
            sums: false,
        }
    }

    fn run(&self, old: &str, new: &str) -> (f64, f64) {
        let (out, into) = if self.diff {
            ("export-diff", "import-diff")
        } else {
            ("export", "import")
        };
        let start = Meter::start();
        let mut reader = self.beside.map(|b| match self.sums {
            true => checksum_pass(new, b),
            false => rbd_command(new, &["export", "--no-progress", &format!("volumes/{b}"), "-"])
                .stdout(Stdio::null())
                .spawn()
                .expect("read back"),
        });
        let mut export = rbd_command(old, &[out, "--no-progress", &format!("volumes/{}", self.image), "-"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("export");
        let mut tee = self.file.map(|f| {
            Command::new("tee")
                .arg(f)
                .stdin(export.stdout.take().expect("stdout"))
                .stdout(Stdio::piped())
                .spawn()
                .expect("tee")
        });
        let into_import = match tee.as_mut() {
            Some(t) => t.stdout.take().expect("tee stdout"),
            None => export.stdout.take().expect("stdout"),
        };
        let import = rbd_command(new, &[into, "--no-progress", "-", &format!("volumes/{}", self.dest)])
            .stdin(into_import)
            .status()
            .expect("import");
        assert!(export.wait().expect("wait").success() && import.success());
        if let (Some(t), Some(f)) = (tee.as_mut(), self.file) {
            assert!(t.wait().expect("wait").success(), "tee");
            std::fs::File::open(f)
                .and_then(|f| f.sync_all())
                .expect("sync the raw file");
        }
        if let Some(r) = reader.as_mut() {
            assert!(r.wait().expect("wait").success(), "read back");
        }
        let t = start.stop();
        if let Some(f) = self.file {
            std::fs::remove_file(f).expect("rm raw file");
        }
        (t.wall, t.cpu)
    }
}

/// The raw pipe's copy read back whole and hashed (`rbd export-diff | hash`):
/// with the pipe, the least work a verified copy can be.
pub async fn raw_read_back(new: &BlockStore, new_conf: &str, dest: &str) -> (f64, f64) {
    let start = Meter::start();
    new.hash_image(dest, Scheme::CURRENT, Counter::default(), &CancellationToken::new())
        .await
        .expect("read back");
    let t = start.stop();
    rbd(new_conf, &["rm", "--no-progress", &format!("volumes/{dest}")]);
    (t.wall, t.cpu)
}

/// This machine's disk, read and written at once: `dd` reading a 1 GiB file
/// with `O_DIRECT` while another `dd` writes 1 GiB with `O_DIRECT`, in 4 MiB
/// blocks, in `dir` (the bench's scratch, on the disk that holds the
/// testbed's stores); the better of two tries, in MiB/s. A copy that moves
/// B bytes through the disk cannot take less than B over this.
pub fn disk_mixed_mib_s(dir: &Path) -> f64 {
    let (src, dst) = (dir.join("disk-read"), dir.join("disk-write"));
    let dd = |args: &[String]| {
        let ok = Command::new("dd").args(args).arg("status=none").status().expect("dd");
        assert!(ok.success(), "dd {args:?}");
    };
    let arg = |k: &str, v: &Path| format!("{k}={}", v.display());
    dd(&[
        "if=/dev/urandom".into(),
        arg("of", &src),
        "bs=4M".into(),
        "count=256".into(),
        "conv=fsync".into(),
    ]);
    let mut best = 0.0f64;
    for _ in 0..2 {
        let start = std::time::Instant::now();
        let mut read = Command::new("dd")
            .args([
                arg("if", &src),
                "of=/dev/null".into(),
                "bs=4M".into(),
                "iflag=direct".into(),
            ])
            .arg("status=none")
            .spawn()
            .expect("dd read");
        dd(&[
            "if=/dev/zero".into(),
            arg("of", &dst),
            "bs=4M".into(),
            "count=256".into(),
            "oflag=direct".into(),
        ]);
        assert!(read.wait().expect("wait").success(), "dd read");
        best = best.max(2048.0 / start.elapsed().as_secs_f64());
        std::fs::remove_file(&dst).expect("rm");
    }
    std::fs::remove_file(&src).expect("rm");
    best
}

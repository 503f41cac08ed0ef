//! The datapath bench's raw baselines: `rbd export - | rbd import -` between
//! the two clusters, and the copy read back whole (`rbd export-diff`, hashed).

use super::common::{rbd, Meter};
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter};
use std::process::{Command, Stdio};
use tokio_util::sync::CancellationToken;

pub fn raw_pipe(old: &str, new: &str, image: &str, dest: &str) -> (f64, f64) {
    let start = Meter::start();
    let mut export = Command::new("rbd")
        .args([
            "--conf",
            old,
            "--id",
            "admin",
            "export",
            "--no-progress",
            &format!("volumes/{image}"),
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("export");
    let import = Command::new("rbd")
        .args([
            "--conf",
            new,
            "--id",
            "admin",
            "import",
            "--no-progress",
            "-",
            &format!("volumes/{dest}"),
        ])
        .stdin(export.stdout.take().expect("stdout"))
        .status()
        .expect("import");
    assert!(export.wait().expect("wait").success() && import.success());
    let t = start.stop();
    (t.wall, t.cpu)
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

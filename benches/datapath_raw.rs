//! The datapath bench's raw baselines: `rbd export - | rbd import -` between
//! the two clusters, the copy read back whole (`rbd export-diff`, hashed),
//! and the pipe with an equal copy read back beside it.

use super::common::{rbd, rbd_command, Meter};
use stackmigrate::storage::sparse_hash::Scheme;
use stackmigrate::storage::{BlockStore, Counter};
use std::process::Stdio;
use tokio_util::sync::CancellationToken;

pub fn raw_pipe(old: &str, new: &str, image: &str, dest: &str) -> (f64, f64) {
    raw_pipe_beside(old, new, image, dest, None)
}

/// The raw pipe while `rbd export` reads `beside` (an earlier raw copy of the
/// same image, as large) from the new cluster into `/dev/null`: the work of a
/// verified copy (the data read from the old cluster, written to the new one
/// and read back from it) by rbd alone, overlapped as well as two processes
/// can, with no hash and no comparison. A reference for a verified copy, not
/// a ceiling: ours reads back by the OSDs' checksums, which send no bytes.
pub fn raw_pipe_with_read_back(old: &str, new: &str, image: &str, dest: &str, beside: &str) -> (f64, f64) {
    raw_pipe_beside(old, new, image, dest, Some(beside))
}

fn raw_pipe_beside(old: &str, new: &str, image: &str, dest: &str, beside: Option<&str>) -> (f64, f64) {
    let start = Meter::start();
    let mut reader = beside.map(|b| {
        rbd_command(new, &["export", "--no-progress", &format!("volumes/{b}"), "-"])
            .stdout(Stdio::null())
            .spawn()
            .expect("read back")
    });
    let mut export = rbd_command(old, &["export", "--no-progress", &format!("volumes/{image}"), "-"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("export");
    let import = rbd_command(new, &["import", "--no-progress", "-", &format!("volumes/{dest}")])
        .stdin(export.stdout.take().expect("stdout"))
        .status()
        .expect("import");
    assert!(export.wait().expect("wait").success() && import.success());
    if let Some(r) = reader.as_mut() {
        assert!(r.wait().expect("wait").success(), "read back");
    }
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

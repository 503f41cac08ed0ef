#![allow(dead_code)] // shared by several test binaries; each uses a part
//! Source volumes with known content, and a pipeline wired to the testbed.

use crate::testbed::Testbed;
use stackmigrate::config::{ImportStrategy, TapeConfig};
use stackmigrate::engine::{EngineEvent, PipelineSettings, VolumePipeline};
use stackmigrate::openstack::{Cinder, NewVolume, Session, Volume};
use stackmigrate::storage::rbd_diff::DiffWriter;
use stackmigrate::storage::sparse_hash::hash_stream;
use stackmigrate::storage::BlockStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

pub const GIB: u64 = 1 << 30;
pub const WAIT: Duration = Duration::from_secs(120);

/// Deterministic pseudo-random bytes (xorshift), so no crate is needed.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// rbd argv for one cluster, as an operator would type it.
pub fn rbd(ceph_conf: &str) -> Command {
    let mut c = Command::new("rbd");
    c.args(["--conf", ceph_conf, "--id", "admin"]);
    c
}

/// Writes `(offset, bytes)` regions into an existing image with `rbd import-diff`.
pub fn write_regions(conf: &str, image: &str, size: u64, regions: &[(u64, Vec<u8>)]) {
    let mut child = rbd(conf)
        .args(["import-diff", "--no-progress", "-", &format!("volumes/{image}")])
        .stdin(Stdio::piped())
        .spawn()
        .expect("rbd import-diff");
    let stdin = child.stdin.take().expect("stdin");
    let mut w = DiffWriter::new(stdin, size).expect("diff");
    for (off, data) in regions {
        w.data(*off, data).expect("write");
    }
    w.finish().expect("finish").flush().expect("flush");
    assert!(child.wait().expect("wait").success(), "import-diff failed");
}

/// The sparse hash of an image read with plain `rbd export -` (not our reader).
pub async fn image_hash(conf: &str, image: &str) -> String {
    let mut child = tokio::process::Command::new("rbd")
        .args([
            "--conf",
            conf,
            "--id",
            "admin",
            "export",
            "--no-progress",
            &format!("volumes/{image}"),
            "-",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("rbd export");
    let out = child.stdout.take().expect("stdout");
    let (hash, _) = hash_stream(out).await.expect("read");
    assert!(child.wait().await.expect("wait").success());
    hash
}

/// The sparse hash of a plain file read from start to end.
pub async fn file_hash(path: &Path) -> String {
    hash_stream(tokio::fs::File::open(path).await.expect("open"))
        .await
        .expect("read")
        .0
}

/// Creates a volume in the old research project and writes `regions` into it.
pub async fn source_volume(
    tb: &Testbed,
    name: &str,
    size_gib: u64,
    regions: &[(u64, Vec<u8>)],
    bootable: bool,
) -> Volume {
    let s = tb.operator("old");
    let c = Cinder::new(&s);
    let v = c
        .create_volume(&NewVolume {
            size: size_gib,
            name: Some(name.to_string()),
            description: Some("datapath test source".into()),
            metadata: [("owner".to_string(), "team ü".to_string())].into(),
            ..Default::default()
        })
        .await
        .expect("create source");
    c.wait_for_status(&v.id, &["available"], WAIT).await.expect("available");
    if bootable {
        c.set_bootable(&v.id, true).await.expect("bootable");
        c.set_image_metadata(&v.id, &[("os_distro".to_string(), "debian".to_string())].into())
            .await
            .expect("image metadata");
    }
    if !regions.is_empty() {
        write_regions(
            &tb.var("OLD_CEPH_CONF"),
            &format!("volume-{}", v.id),
            size_gib * GIB,
            regions,
        );
    }
    c.get_volume(&v.id).await.expect("get")
}

pub struct Rig {
    pub pipeline: VolumePipeline,
    pub events: Receiver<EngineEvent>,
    pub dir: tempfile::TempDir,
}

impl Rig {
    pub fn export_dir(&self) -> PathBuf {
        self.dir.path().join("exports")
    }
    pub fn tape_dir(&self) -> PathBuf {
        self.dir.path().join("tape")
    }
    /// Every event sent so far.
    pub fn drain(&mut self) -> Vec<EngineEvent> {
        let mut out = Vec::new();
        while let Ok(e) = self.events.try_recv() {
            out.push(e);
        }
        out
    }
}

/// A pipeline on the testbed with a `cp` tape target, or `tape` if given.
pub fn rig(tb: &Testbed, strategy: ImportStrategy, tape: Option<Vec<String>>) -> Rig {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("exports")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("tape")).expect("mkdir");
    let cfg = tb.admin_config();
    let new_session: Session = match strategy {
        ImportStrategy::Replace => tb.operator("new"),
        ImportStrategy::Manage => tb.admin("new").rescoped(&tb.var("NEW_RESEARCH_ID")),
    };
    let tape_dir = format!("{}/", dir.path().join("tape").display());
    let command = tape.unwrap_or_else(|| {
        ["cp", "--sparse=always", "{file}", &tape_dir]
            .map(String::from)
            .to_vec()
    });
    let (tx, rx) = tokio::sync::mpsc::channel(100_000);
    Rig {
        pipeline: VolumePipeline {
            pending_snaps: Default::default(),
            snap_drops: Default::default(),
            drives: Default::default(),
            old: BlockStore::for_cloud(&cfg.old_cloud).expect("ceph"),
            new: BlockStore::for_cloud(&cfg.new_cloud).expect("ceph"),
            new_session: Arc::new(new_session),
            old_session: Some(Arc::new(tb.operator("old"))),
            settings: PipelineSettings {
                export_dir: Some(dir.path().join("exports")),
                strategy,
                volume_type_map: Default::default(),
                availability_zone: None,
                tape: Some(TapeConfig { command, drives: None }),
                wait: WAIT,
                stage_stall: stackmigrate::engine::STAGE_STALL,
                manifest_dir: dir.path().join("work").join("sync"),
                full_verify: false,
            },
            events: tx,
        },
        events: rx,
        dir,
    }
}

/// Deletes volumes by id in a cloud (best effort, for cleanup at a test's end).
pub async fn delete_volumes(s: &Session, ids: &[&str]) {
    let c = Cinder::new(s);
    for id in ids {
        let _ = c.delete_volume(id).await;
    }
}

/// A credentials file for the `migrate` binary: the testbed's, with work,
/// export and tape directories under `dir` and the given tape argv.
pub fn migrate_config(tb: &Testbed, dir: &Path, tape: Option<Vec<String>>, admin: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let src = if admin {
        tb.admin_credentials()
    } else {
        tb.credentials()
    };
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    let tape_dir = dir.join("tape");
    std::fs::create_dir_all(&tape_dir).expect("mkdir");
    cfg["work_dir"] = dir.join("work").display().to_string().into();
    cfg["export_dir"] = dir.join("exports").display().to_string().into();
    let command = tape.unwrap_or_else(|| {
        vec![
            "cp".into(),
            "--sparse=always".into(),
            "{file}".into(),
            format!("{}/", tape_dir.display()),
        ]
    });
    cfg["tape"] = serde_json::json!({ "command": command });
    let path = dir.join("credentials.json");
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).expect("json")).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

/// New-cloud volumes that claim `source` as their origin.
pub async fn copies_of(tb: &Testbed, source: &str) -> Vec<Volume> {
    let s = tb.operator("new");
    Cinder::new(&s)
        .list_volumes(None)
        .await
        .expect("list")
        .into_iter()
        .filter(|v| v.metadata.get("stackmigrate.source_volume_id").map(String::as_str) == Some(source))
        .collect()
}

/// Runs `stackmigrate <args> --log-file <dir>/log` to the end.
pub fn stackmigrate(dir: &Path, args: &[&str]) -> std::process::Output {
    stackmigrate_cmd(dir, args).output().expect("run stackmigrate")
}

/// That command, not started (to set its environment).
pub fn stackmigrate_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_stackmigrate"));
    c.args(args).arg("--log-file").arg(dir.join("stackmigrate.log"));
    c.stdin(Stdio::null());
    c
}

/// Runs `migrate --yes --json` on `ids` and sends `signal` (a `kill` name:
/// KILL, TERM, HUP) the first time a `stage_started` event for `stage`
/// appears, then reads to the end. Returns whether the signal was sent and
/// the exit code (`None` when the process died of the signal).
pub fn migrate_signalled(dir: &Path, cfg: &str, ids: &str, stage: &str, signal: &str) -> (bool, Option<i32>) {
    migrate_signalled_with(dir, cfg, ids, &[], stage, signal)
}

/// [`migrate_signalled`] with more `migrate` flags (`--cutover`).
pub fn migrate_signalled_with(
    dir: &Path,
    cfg: &str,
    ids: &str,
    extra: &[&str],
    stage: &str,
    signal: &str,
) -> (bool, Option<i32>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
        .args(["--config", cfg, "migrate", "--project", "research", "--volumes", ids])
        .args(extra)
        .args(["--yes", "--json", "--log-file"])
        .arg(dir.join("stackmigrate.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let mut sent = false;
    for line in std::io::BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        let Ok(e) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        // `stage`: a stage's start, or `log:TEXT` a log line containing TEXT.
        let hit = match stage.strip_prefix("log:") {
            Some(text) => e["event"] == "log" && e["line"].as_str().is_some_and(|l| l.contains(text)),
            None => e["event"] == "stage_started" && e["stage"] == stage,
        };
        if !sent && hit {
            let kill = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(kill.success(), "kill -{signal}");
            sent = true;
        }
    }
    let status = child.wait().expect("wait");
    (sent, status.code())
}

/// Marks a volume in use by `server` without Nova: Cinder's `os-reserve` +
/// `os-attach` (an operator's way to test attachments with no compute).
pub async fn attach(s: &Session, volume: &str, server: &str) {
    let c = Cinder::new(s);
    c.action(volume, serde_json::json!({ "os-reserve": {} }))
        .await
        .expect("os-reserve");
    c.action(
        volume,
        serde_json::json!({ "os-attach": { "instance_uuid": server, "mountpoint": "/dev/vdb", "mode": "rw" } }),
    )
    .await
    .expect("os-attach");
    c.wait_for_status(volume, &["in-use"], WAIT).await.expect("in-use");
}

/// Undoes [`attach`]: `os-begin_detaching` + `os-detach`.
pub async fn detach(s: &Session, volume: &str) {
    let c = Cinder::new(s);
    let v = c.get_volume(volume).await.expect("get");
    c.action(volume, serde_json::json!({ "os-begin_detaching": {} }))
        .await
        .expect("os-begin_detaching");
    let attachment = v.attachments.first().and_then(|a| a.attachment_id.clone());
    c.action(
        volume,
        serde_json::json!({ "os-detach": { "attachment_id": attachment } }),
    )
    .await
    .expect("os-detach");
    c.wait_for_status(volume, &["available"], WAIT)
        .await
        .expect("available");
}

/// A live writer: `rbd bench` random 64 KiB writes, `total` bytes in all.
pub fn bench_write(conf: &str, image: &str, total: &str) -> std::process::Child {
    rbd(conf)
        .args([
            "bench",
            "--io-type",
            "write",
            "--io-pattern",
            "rand",
            "--io-size",
            "64K",
        ])
        .args(["--io-threads", "4", "--io-total", total, &format!("volumes/{image}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rbd bench")
}

/// The image's snapshot names (`rbd snap ls`).
pub fn snaps(conf: &str, image: &str) -> Vec<String> {
    let out = rbd(conf)
        .args(["snap", "ls", "--format", "json", &format!("volumes/{image}")])
        .output()
        .expect("rbd snap ls");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    v.iter()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect()
}

/// `stackmigrate --config cfg migrate --project research --volumes ids --yes <extra>`.
pub fn migrate(dir: &Path, cfg: &str, ids: &str, extra: &[&str]) -> std::process::Output {
    migrate_cmd(dir, cfg, ids, extra).output().expect("run stackmigrate")
}

/// [`migrate`], not started.
pub fn migrate_cmd(dir: &Path, cfg: &str, ids: &str, extra: &[&str]) -> Command {
    let mut args = ["--config", cfg, "migrate", "--project", "research"].to_vec();
    args.extend(["--volumes", ids, "--yes"].iter().chain(extra));
    stackmigrate_cmd(dir, &args)
}

/// Its exit code, with its output when it is not `want`.
pub fn expect_code(out: &std::process::Output, want: i32) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(want), "{text}");
    text
}

/// A child's output as text, for assertion messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

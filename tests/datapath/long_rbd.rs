//! Measuring an image's used bytes (`rbd diff --whole-object`) and `rbd rm`
//! of an image without object-map/fast-diff take time in proportion to its
//! size (2 TiB on the testbed: about 35 s to measure, rm 75 s), so they are
//! not held to the short-call limit, and a cancel stops them. The short limit
//! is shrunk to 2 s so a 512 GiB image (about 8 s, rm 14 s) shows it without
//! minutes of test time; the test first proves that the short path would cut
//! this measurement off. And the measure counts the head's data, snapshots or
//! not.

use crate::fixtures::*;
use crate::testbed::Testbed;
use stackmigrate::config::ImportStrategy;
use stackmigrate::engine::{Preflight, PreflightProgress};
use stackmigrate::openstack::Volume;
use stackmigrate::storage::{BlockStore, RbdCli, RbdError, RbdStore};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const SHORT: Duration = Duration::from_secs(2);
const SIZE_GIB: u64 = 512;

/// Processes whose command line holds `needle` (our rbd children).
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && !cmdline.contains("cargo") {
            found.push(cmdline);
        }
    }
    found
}

/// Removes the test image if the test stops before it does (memstore keeps
/// what is left in RAM).
struct RemoveOnDrop {
    conf: String,
    spec: String,
}

impl RemoveOnDrop {
    /// `rbd create ARGS SPEC`, removed again when the guard goes.
    fn create(conf: &str, spec: &str, args: &[&str]) -> Self {
        let created = rbd(conf)
            .arg("create")
            .args(args)
            .arg(spec)
            .status()
            .expect("rbd create");
        assert!(created.success(), "rbd create {spec}");
        Self {
            conf: conf.to_string(),
            spec: spec.to_string(),
        }
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = rbd(&self.conf)
            .args(["rm", "--no-progress", &self.spec])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_sparse_layering_only_image_passes_preflight_and_is_removed() {
    let tb = Testbed::get();
    let cfg = tb.admin_config();
    let conf = tb.var("OLD_CEPH_CONF");
    let id = uuid::Uuid::new_v4().to_string();
    let image = format!("volume-{id}");
    let spec = format!("volumes/{image}");
    let _guard = RemoveOnDrop::create(
        &conf,
        &spec,
        &["--image-feature", "layering", "--size", &format!("{SIZE_GIB}G")],
    );
    let size = SIZE_GIB * GIB;
    let regions = [
        (0, noise(71, 4 << 20)),
        (100 * GIB + 12345, noise(72, 4 << 20)),
        (size - (4 << 20), noise(73, 4 << 20)),
    ];
    write_regions(&conf, &image, size, &regions);

    let ceph = cfg.old_cloud.ceph.clone().expect("ceph");
    let short_cli = RbdCli::new(&ceph).with_short_limit(SHORT);
    // Not vacuous: held to the short limit, as every call was before, this measure is cut off.
    let cut = short_cli.run("diff", &["diff", "--whole-object", &spec]).await;
    assert!(matches!(cut, Err(RbdError::Timeout { .. })), "{cut:?}");

    let old = BlockStore::Rbd(RbdStore::with_cli(short_cli.clone()));
    let new_ceph = cfg.new_cloud.ceph.clone().expect("ceph");
    let new = BlockStore::Rbd(RbdStore::with_cli(RbdCli::new(&new_ceph).with_short_limit(SHORT)));
    let volume: Volume = serde_json::from_value(serde_json::json!({
        "id": id, "name": "big sparse layering-only", "size": SIZE_GIB, "status": "available"
    }))
    .expect("volume");
    let dir = tempfile::tempdir().expect("tmp");
    let session = tb.operator("new");
    let cancel = CancellationToken::new();
    let (tx, mut progress) = tokio::sync::mpsc::unbounded_channel();
    let start = Instant::now();
    let lines = Preflight {
        new_session: &session,
        strategy: ImportStrategy::Replace,
        old: &old,
        new: &new,
        export_dir: Some(dir.path()),
        tape: None,
        exports_in_flight: 1,
        quota: None,
        type_map: &cfg.volume_type_map,
        created: Vec::new(),
        cancel: &cancel,
        progress: Some(tx),
        early: None,
    }
    .run(std::slice::from_ref(&volume))
    .await;
    let took = start.elapsed();
    assert!(lines.iter().all(|l| l.ok), "{lines:#?}");
    let space = lines
        .iter()
        .find(|l| l.text.starts_with("export dir"))
        .expect("space line");
    assert!(space.text.contains("MiB needed"), "{}", space.text);
    // Whole objects: 4 MiB, 8 MiB (the unaligned region spans two), 4 MiB.
    assert_eq!(old.measured(&image), Some((size, 16 << 20)), "size and used bytes");
    assert!(
        took > SHORT,
        "pre-flight took {took:?}, not longer than the short limit"
    );
    assert_eq!(
        progress.try_recv().ok(),
        Some(PreflightProgress::MeasuringUsedSpace {
            volume: "big sparse layering-only".into(),
            index: 1,
            total: 1
        }),
        "a slow measure is reported"
    );

    // A cancel reaches a running measure (the operator left the plan): TERM to its
    // group, and it is gone. (This, not rm: a killed rm leaves its watch on the
    // image for 30 s, and the rm below would have to wait that out.)
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SHORT).await;
        stopper.cancel();
    });
    // The limit only keeps a broken cancel from hanging the suite; what is
    // checked is the answer and that no rbd is left.
    let r = tokio::time::timeout(Duration::from_secs(120), old.used_bytes(&image, &stop))
        .await
        .expect("the cancel reached the measure");
    assert!(matches!(r, Err(RbdError::Cancelled { .. })), "{r:?}");
    let left: Vec<String> = processes_with(&image)
        .into_iter()
        .filter(|c| c.contains(" diff "))
        .collect();
    assert!(left.is_empty(), "rbd diff still running: {left:?}");

    // And uncancelled it runs past the short limit to the end.
    let start = Instant::now();
    old.remove(&image, &CancellationToken::new()).await.expect("rm");
    let took = start.elapsed();
    assert!(took > SHORT, "rm took {took:?}");
    let gone = rbd(&conf).args(["info", &spec]).output().expect("rbd info");
    assert!(!gone.status.success(), "{spec} removed");
    eprintln!("{SIZE_GIB} GiB layering-only image: rm {took:?}");
}

/// `rbd du`'s head row counts only what changed since the newest snapshot;
/// the export reads the whole head. The measure must count all of it, and a
/// snapshot removed while it runs must not fail it (it does fail `rbd du`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn used_bytes_count_the_whole_head_of_an_image_with_snapshots() {
    let tb = Testbed::get();
    let cfg = tb.admin_config();
    let conf = tb.var("OLD_CEPH_CONF");
    let image = format!("volume-{}", uuid::Uuid::new_v4());
    let spec = format!("volumes/{image}");
    let size = GIB;
    let _guard = RemoveOnDrop::create(&conf, &spec, &["--size", "1G"]);
    write_regions(&conf, &image, size, &[(0, noise(74, 12 << 20))]);
    let snap = |args: &[&str]| {
        let out = rbd(&conf).arg("snap").args(args).output().expect("rbd snap");
        assert!(out.status.success(), "rbd snap {args:?}: {}", text(&out.stderr));
    };
    snap(&["create", &format!("{spec}@user-1")]);
    write_regions(&conf, &image, size, &[(512 << 20, noise(75, 4 << 20))]);
    let du = rbd(&conf)
        .args(["du", "--format", "json", &spec])
        .output()
        .expect("rbd du");
    let du: serde_json::Value = serde_json::from_slice(&du.stdout).expect("du json");
    let head = du["images"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r.get("snapshot").is_none()))
        .expect("head row");
    assert_eq!(
        head["used_size"],
        4 << 20,
        "rbd du's head row: only the change since user-1"
    );
    let store = BlockStore::Rbd(RbdStore::new(&cfg.old_cloud.ceph.clone().expect("ceph")));
    let cancel = CancellationToken::new();
    assert_eq!(
        store.used_bytes(&image, &cancel).await.expect("used bytes"),
        16 << 20,
        "the head's 12 + 4 MiB"
    );
    // Snapshots come and go while it measures: every measure still succeeds.
    let churn = {
        let (conf, spec) = (conf.clone(), spec.clone());
        std::thread::spawn(move || {
            let ok = |c: &mut std::process::Command| c.status().is_ok_and(|s| s.success());
            (2..7)
                .filter(|i| {
                    let name = format!("{spec}@user-{i}");
                    let made = ok(rbd(&conf).args(["snap", "create", &name]));
                    made && ok(rbd(&conf).args(["snap", "rm", "--no-progress", &name]))
                })
                .count()
        })
    };
    let mut measures = 0;
    while !churn.is_finished() {
        let used = store.used_bytes(&image, &cancel).await;
        assert_eq!(used.as_ref().ok(), Some(&(16 << 20)), "{used:?}");
        measures += 1;
    }
    assert_eq!(churn.join().expect("churn"), 5, "every snapshot made and removed");
    assert!(measures > 1, "measured {measures} times while snapshots changed");
    snap(&["purge", "--no-progress", &spec]);
}

/// A redo zeros the copy's objects its source lacks (`stray_objects.rs`):
/// a volume made from an image is a clone, and where its parent holds the
/// data it has no object of its own. Those must count as the source's, or
/// the redo would zero the image's data in the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clone_s_objects_include_those_its_parent_holds() {
    let tb = Testbed::get();
    let cfg = tb.admin_config();
    let conf = tb.var("OLD_CEPH_CONF");
    let id = uuid::Uuid::new_v4();
    let (parent, child) = (format!("image-{id}"), format!("volume-{id}"));
    let ok = |args: &[&str]| {
        let out = rbd(&conf).args(args).output().expect("rbd");
        assert!(out.status.success(), "rbd {args:?}: {}", text(&out.stderr));
    };
    let snap = format!("volumes/{parent}@base");
    ok(&["create", "--size", "64M", &format!("volumes/{parent}")]);
    write_regions(&conf, &parent, 64 << 20, &[(0, noise(76, 16 << 20))]);
    ok(&["snap", "create", &snap]);
    ok(&["snap", "protect", &snap]);
    ok(&["clone", &snap, &format!("volumes/{child}")]);
    write_regions(&conf, &child, 64 << 20, &[(32 << 20, noise(77, 4 << 20))]);
    let store = BlockStore::Rbd(RbdStore::new(&cfg.old_cloud.ceph.clone().expect("ceph")));
    let objects = store.objects(&child, None, &CancellationToken::new()).await;
    ok(&["rm", "--no-progress", &format!("volumes/{child}")]);
    ok(&["snap", "unprotect", &snap]);
    ok(&["snap", "rm", "--no-progress", &snap]);
    ok(&["rm", "--no-progress", &format!("volumes/{parent}")]);
    let objects = objects.expect("objects");
    assert_eq!(
        objects.0,
        vec![(0, 16 << 20), (32 << 20, 4 << 20)],
        "the parent's and its own"
    );
    let mut copy = stackmigrate::storage::Extents::default();
    copy.push(0, 40 << 20);
    assert_eq!(copy.minus(&objects).0, vec![(16 << 20, 16 << 20), (36 << 20, 4 << 20)]);
}

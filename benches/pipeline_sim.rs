//! The pipeline bench on the embedded simulated clouds, where the two cores
//! are not the limit: file stores throttled to 200 MiB/s per export and per
//! import stream, a tape command that writes 100 MiB/s, and 50 ms before
//! every API answer. The seed's way runs on the same stores: every export to
//! a file in turn, then per volume the import (with its Cinder create) and the
//! tape copy side by side, as the 2018 script did.

use stackmigrate::config::{Config, TapeConfig};
use stackmigrate::engine::RunSetup;
use stackmigrate::openstack::{Cinder, Keystone, NewVolume, Session, Volume};
use stackmigrate::sim::{SimClouds, SimOptions};
use stackmigrate::storage::{BlockStore, Counter};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const VOLUMES: u64 = 8;
const TAPE_MIB_S: u64 = 100;

/// A tape drive of TAPE_MIB_S: copies the file's data extents (holes stay
/// holes) into the directory, paced on the bytes written. Its copy is
/// written with `O_DIRECT` where the file system allows it: a drive's
/// media is not this host's page cache, and through it the three streams
/// of a pipelined run (export files, the simulated new cloud's images and
/// the tapes) met this VM's buffered writeback, 216-287 MB/s for 2-3 GiB
/// (`dd`, session 32), instead of the engine's overlap.
const TAPE: &str = r#"
import mmap, os, sys, time
src, dst = sys.argv[1], sys.argv[2]
rate = int(sys.argv[3]) * 2**20
fi = os.open(src, os.O_RDONLY)
out = os.path.join(dst, os.path.basename(src))
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
try:
    fo, direct = os.open(out, flags | os.O_DIRECT, 0o600), True
except OSError:
    fo, direct = os.open(out, flags, 0o600), False
size = os.fstat(fi).st_size
os.ftruncate(fo, size)
buf = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT needs
t0, done, pos = time.monotonic(), 0, 0
while pos < size:
    try:
        pos = os.lseek(fi, pos, os.SEEK_DATA)
    except OSError:
        break
    end = os.lseek(fi, pos, os.SEEK_HOLE)
    while pos < end:
        n = os.preadv(fi, [memoryview(buf)[: min(1 << 20, end - pos)]], pos)
        if n == 0:
            sys.exit("%s: ends before its data at %d" % (src, pos))
        b = memoryview(buf)[:n]
        if direct and (n % 4096 or pos % 4096):
            os.close(fo)
            fo, direct = os.open(out, os.O_WRONLY), False
        try:
            os.pwrite(fo, b, pos)
        except OSError:
            if not direct:
                raise
            # A file system that took O_DIRECT at open but refuses the write.
            os.close(fo)
            fo, direct = os.open(out, os.O_WRONLY), False
            os.pwrite(fo, b, pos)
        pos += n
        done += n
        wait = t0 + done / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
"#;

fn tape_argv(dir: &std::path::Path) -> Vec<String> {
    vec![
        "python3".into(),
        "-c".into(),
        TAPE.into(),
        "{file}".into(),
        dir.display().to_string(),
        TAPE_MIB_S.to_string(),
    ]
}

/// MiB of data in volume `i`: 96 .. 288.
fn written(i: u64) -> u64 {
    96 + (288 - 96) * i / (VOLUMES - 1)
}

async fn sources(old: &Session, pool: &std::path::Path) -> Vec<Volume> {
    let c = Cinder::new(old);
    let mut out = Vec::new();
    for i in 0..VOLUMES {
        let v = c
            .create_volume(&NewVolume {
                size: 1,
                name: Some(format!("bench-sim-{i}")),
                ..Default::default()
            })
            .await
            .expect("create");
        let v = c
            .wait_for_status(&v.id, &["available"], Duration::from_secs(60))
            .await
            .expect("available");
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(pool.join(format!("volume-{}", v.id)))
            .expect("image file");
        // 4 MiB runs every 8 MiB, of bytes that differ per run.
        let mut run = vec![0u8; 4 << 20];
        for k in 0..written(i) / 4 {
            run.iter_mut()
                .enumerate()
                .for_each(|(j, b)| *b = (j as u64 ^ k ^ i) as u8 | 1);
            f.write_all_at(&run, k * (8 << 20)).expect("fill");
        }
        out.push(v);
    }
    out
}

/// The seed's way on the same stores and clouds.
async fn seed_way(cfg: &Config, new: &Session, vols: &[Volume], dir: &std::path::Path) -> f64 {
    let (old_store, new_store) = (
        BlockStore::for_cloud(&cfg.old_cloud).expect("old store"),
        BlockStore::for_cloud(&cfg.new_cloud).expect("new store"),
    );
    let cancel = CancellationToken::new();
    let tape_dir = dir.join("seed-tape");
    std::fs::create_dir_all(&tape_dir).expect("tape dir");
    let start = Instant::now();
    let mut files = Vec::new();
    for v in vols {
        let file = dir.join(format!("seed-{}.raw", v.id));
        old_store
            .export_to_file(&format!("volume-{}", v.id), &file, Counter::default(), &cancel)
            .await
            .expect("export");
        files.push(file);
    }
    let c = Cinder::new(new);
    for (v, file) in vols.iter().zip(&files) {
        let import = async {
            let created = c
                .create_volume(&NewVolume {
                    size: 1,
                    ..Default::default()
                })
                .await
                .expect("create");
            c.wait_for_status(&created.id, &["available"], Duration::from_secs(60))
                .await
                .expect("available");
            new_store
                .import_from_file(file, &format!("seed-{}", v.id), Counter::default(), &cancel)
                .await
                .expect("import");
        };
        let mut argv = tape_argv(&tape_dir);
        argv[3] = file.display().to_string();
        let tape = tokio::process::Command::new(&argv[0]).args(&argv[1..]).status();
        let ((), tape) = tokio::join!(import, tape);
        assert!(tape.expect("tape").success(), "tape");
    }
    start.elapsed().as_secs_f64()
}

async fn ours(cfg: &Config, vols: &[Volume]) -> f64 {
    let old = Arc::new(Session::new("old", &cfg.old_cloud).expect("old"));
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    let setup = RunSetup::new(cfg, old, new, project, None).expect("setup");
    let start = Instant::now();
    let mut run = setup
        .start(cfg, vols.to_vec(), Default::default())
        .await
        .expect("start");
    while run.events.recv().await.is_some() {}
    let summary = run.engine.await.expect("join").expect("engine");
    assert_eq!(summary.verified, vols.len(), "{summary:?}");
    start.elapsed().as_secs_f64()
}

/// Prints the comparison, with one tape drive (the default) and with two.
pub async fn run() {
    let dir = tempfile::tempdir_in(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into())).expect("tmp");
    let sim = SimClouds::start(SimOptions {
        dir: dir.path().to_path_buf(),
        export_mib_s: Some(200),
        import_mib_s: Some(200),
        api_delay: Some(Duration::from_millis(50)),
        ..Default::default()
    })
    .await
    .expect("simulated clouds");
    let mut cfg = sim.config.clone();
    cfg.usage = None;
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let vols = sources(&old, &dir.path().join("old-pool")).await;
    let new = Session::new("new", &cfg.new_cloud).expect("new");
    let seed = seed_way(&cfg, &new, &vols, dir.path()).await;
    let data: u64 = (0..VOLUMES).map(written).sum();
    println!(
        "simulated clouds, {VOLUMES} volumes of 1 GiB holding {}..{} MiB ({data} MiB): export and import 200 MiB/s per stream, tape {TAPE_MIB_S} MiB/s, 50 ms per API call",
        written(0),
        written(VOLUMES - 1)
    );
    println!("  seed's way (exports in turn, then import and tape side by side per volume)  {seed:6.2} s");
    for tapes in [1, 2] {
        let run_dir = dir.path().join(format!("ours-{tapes}"));
        let mut c = cfg.clone();
        c.work_dir = run_dir.join("work");
        c.export_dir = Some(run_dir.join("exports"));
        let tape_dir = run_dir.join("tape");
        std::fs::create_dir_all(&tape_dir).expect("tape dir");
        c.tape = Some(TapeConfig {
            command: tape_argv(&tape_dir),
            drives: None,
        });
        c.concurrency.tapes = tapes;
        let t = ours(&c, &vols).await;
        // Cinder in the new cloud keeps the copies: the next run must not find them.
        drop_copies(&new, &vols).await;
        println!(
            "  stackmigrate, {tapes} tape drive(s), pipelined with Cinder create + verify       {t:6.2} s  ratio {:.2} (goal <= 0.55; the tape alone needs {:.2} of the seed's time)",
            t / seed,
            data as f64 / TAPE_MIB_S as f64 / tapes as f64 / seed
        );
        super::stage_seconds(&c.work_dir);
    }
}

async fn drop_copies(new: &Session, vols: &[Volume]) {
    let c = Cinder::new(new);
    for v in c.list_volumes(None).await.expect("list") {
        if v.metadata
            .get("stackmigrate.source_volume_id")
            .is_some_and(|s| vols.iter().any(|x| &x.id == s))
        {
            c.delete_volume(&v.id).await.expect("delete copy");
        }
    }
}

//! Shared by the benchmarks: the testbed's env file and image filling.
#![allow(dead_code)]

use stackmigrate::storage::rbd_diff::DiffWriter;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const MIB: u64 = 1 << 20;

/// The testbed's env file: `$STACKMIGRATE_TESTBED_ENV`, else this checkout's.
pub fn env() -> HashMap<String, String> {
    let path = std::env::var_os("STACKMIGRATE_TESTBED_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testbed/.state/env"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; start the testbed with `bash testbed/up.sh`", path.display()));
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `rbd` as the testbed's admin on the cluster of `conf`, with `args`.
pub fn rbd_command(conf: &str, args: &[&str]) -> Command {
    let mut c = Command::new("rbd");
    c.args(["--conf", conf, "--id", "admin"]).args(args);
    c
}

pub fn rbd(conf: &str, args: &[&str]) {
    let ok = rbd_command(conf, args).status().expect("rbd").success();
    assert!(ok, "rbd {args:?} failed");
}

/// `rbd bench --io-type KIND` of 64 MiB in random 64 KiB pieces (4 threads) on
/// `spec` (`pool/image`), as a warm-sync round's delta: its wall seconds.
pub fn bench_64m(conf: &str, kind: &str, spec: &str) -> f64 {
    let t = std::time::Instant::now();
    let ok = rbd_command(conf, &["bench", "--io-type", kind, "--io-pattern", "rand"])
        .args(["--io-size", "64K", "--io-threads", "4", "--io-total", "64M", spec])
        .stdout(Stdio::null())
        .status()
        .expect("rbd bench")
        .success();
    assert!(ok, "rbd bench {kind} {spec}");
    t.elapsed().as_secs_f64()
}

/// Runs a shell pipeline, which must succeed.
pub fn sh(script: &str) {
    let ok = Command::new("sh").args(["-c", script]).status().expect("sh").success();
    assert!(ok, "{script}");
}

/// Writes `data` bytes of pseudo-random content into an existing `image` of
/// `size` bytes, in 4 MiB runs every `stride` bytes.
pub fn fill(conf: &str, image: &str, size: u64, data: u64, stride: u64, seed: u64) {
    fill_runs(conf, image, (size, 0), (data, 4 * MIB as usize), stride, seed);
}

/// As [`fill`], in runs of `run` bytes starting `at` bytes into each stride.
pub fn fill_runs(conf: &str, image: &str, (size, at): (u64, u64), (data, run): (u64, usize), stride: u64, seed: u64) {
    let mut child = rbd_command(
        conf,
        &["import-diff", "--no-progress", "-", &format!("volumes/{image}")],
    )
    .stdin(Stdio::piped())
    .spawn()
    .expect("import-diff");
    let mut w = DiffWriter::new(std::io::BufWriter::new(child.stdin.take().expect("stdin")), size).expect("w");
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
    let mut chunk = vec![0u8; run];
    let (mut written, mut off) = (0, at);
    while written < data && off < size {
        for b in chunk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 32) as u8;
        }
        w.data(off, &chunk).expect("data");
        written += chunk.len() as u64;
        off += stride;
    }
    w.finish().expect("finish").flush().expect("flush");
    assert!(child.wait().expect("wait").success());
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Busy CPU seconds of the whole machine so far (every process, the kernel
/// included): `/proc/stat` minus idle and iowait. The difference over a
/// measured span is what that span cost the cores, whoever spent it.
pub fn cpu_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    (total - idle) / 100.0
}

/// Wall seconds and busy CPU seconds of `f`.
pub struct Spent {
    pub wall: f64,
    pub cpu: f64,
}

impl Spent {
    pub fn line(&self) -> String {
        format!(
            "{:6.2} s wall, {:6.2} CPU-s busy ({:.2} of {} cores)",
            self.wall,
            self.cpu,
            self.cpu / self.wall,
            cores()
        )
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub struct Meter {
    wall: std::time::Instant,
    cpu: f64,
}

impl Meter {
    pub fn start() -> Self {
        Self {
            wall: std::time::Instant::now(),
            cpu: cpu_busy_seconds(),
        }
    }

    pub fn stop(&self) -> Spent {
        Spent {
            wall: self.wall.elapsed().as_secs_f64(),
            cpu: cpu_busy_seconds() - self.cpu,
        }
    }
}

/// CPU seconds per thread of this process (`/proc/self/task/*/stat`), with
/// the thread's name, keyed by thread id.
pub fn thread_cpu() -> HashMap<u32, (String, f64)> {
    // USER_HZ: 100 ticks a second in Linux's ABI.
    const TICK: f64 = 0.01;
    let mut out = HashMap::new();
    for e in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let Ok(tid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // The name is in parentheses and may hold spaces: split after the last ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let name = head.split_once('(').map_or("", |x| x.1).to_string();
        let f: Vec<&str> = rest.split_whitespace().collect();
        // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
        let ticks: f64 = f
            .get(11..13)
            .map_or(0.0, |t| t.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
        out.insert(tid, (name, ticks * TICK));
    }
    out
}

/// Samples [`thread_cpu`] every 50 ms on its own thread, so that threads
/// which end during the measurement (a child's pipe reader) still count.
pub struct ThreadSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<HashMap<u32, (String, f64)>>,
    before: HashMap<u32, (String, f64)>,
    wall: std::time::Instant,
}

impl ThreadSampler {
    pub fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("bench-sampler".into())
            .spawn(move || {
                let mut seen = HashMap::new();
                loop {
                    seen.extend(thread_cpu());
                    if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        return seen;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            })
            .expect("sampler");
        Self {
            stop,
            handle,
            before: thread_cpu(),
            wall: std::time::Instant::now(),
        }
    }

    /// Prints the threads that used CPU since `start`, busiest first, as
    /// seconds and as a share of one core over the wall time.
    pub fn print(self, what: &str) {
        let wall = self.wall.elapsed().as_secs_f64();
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let seen = self.handle.join().expect("sampler");
        let mut rows: Vec<(String, u32, f64)> = seen
            .into_iter()
            .filter(|(_, (name, _))| name != "bench-sampler")
            .map(|(tid, (name, cpu))| (name, tid, cpu - self.before.get(&tid).map_or(0.0, |b| b.1)))
            .filter(|r| r.2 > 0.0)
            .collect();
        rows.sort_by(|a, b| b.2.total_cmp(&a.2));
        let total: f64 = rows.iter().map(|r| r.2).sum();
        println!("  per-thread CPU of stackmigrate, {what} ({wall:.2} s wall; {total:.2} CPU-s in-process):");
        for (name, tid, cpu) in rows.iter().take(8) {
            println!(
                "    {name:<18} {tid:>7}  {cpu:6.2} s  {:5.1}% of a core",
                100.0 * cpu / wall
            );
        }
    }
}

/// The longest [`settle`] wait so far, in milliseconds.
static MOST_SETTLED_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Waits until the whole machine has been nearly idle (under a fifth of a
/// core busy over half a second) or 20 s have passed (said on stderr): a
/// timed command then does not start while the cluster is still writing back
/// what the step before it wrote.
pub fn settle() {
    let start = std::time::Instant::now();
    loop {
        let before = cpu_busy_seconds();
        std::thread::sleep(std::time::Duration::from_millis(500));
        let busy = (cpu_busy_seconds() - before) / 0.5;
        let waited = start.elapsed();
        let gave_up = waited.as_secs() >= 20;
        if gave_up {
            eprintln!("settle: still {busy:.2} cores busy after 20 s; timing anyway");
        }
        if busy < 0.2 || gave_up {
            MOST_SETTLED_MS.fetch_max(waited.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
            return;
        }
    }
}

/// The longest [`settle`] wait so far, in seconds.
pub fn most_settled() -> f64 {
    MOST_SETTLED_MS.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1000.0
}

/// `BENCH_RUNS` (how many rounds a bench part times), else `default`.
pub fn bench_runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// How much of the cluster's bluestore file (`osd/0/block.file` beside the
/// testbed's `conf`) the host has allocated, as "A of B GiB", or None where
/// there is none (memstore, or clusters started elsewhere). The file starts
/// sparse, and until the OSD has written over all of it, its writes land on
/// space the host allocates first: printed so that a run can be read against
/// the testbed's age (session 23 saw the raw pipe slower while it filled).
pub fn store_allocated(conf: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let file = std::path::Path::new(conf).parent()?.join("osd/0/block.file");
    let m = std::fs::metadata(file).ok()?;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    Some(format!("{:.1} of {:.1} GiB", gib(m.blocks() * 512), gib(m.len())))
}

//! Where the CPU goes over a span: every process's (and each stackmigrate
//! thread's) CPU ticks from `/proc/*/stat` and `/proc/<pid>/task/*/stat`,
//! sampled every 50 ms on a thread, so that processes which end within the
//! span are counted up to their last sample; with them the disks' counters
//! (`/proc/diskstats`), so that a span's bytes through the disk are known.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Seconds after the start, the processes' ticks, the disks' counters.
type Sample = (f64, Vec<(String, u64)>, Disks);

/// Whole disks' counters: sectors (512 bytes) read, sectors written, and the
/// busiest disk's milliseconds with an I/O in flight.
type Disks = [u64; 3];

fn disks() -> Disks {
    let text = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    let mut out = [0; 3];
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = f.get(2) else {
            continue;
        };
        // Whole disks backed by a device: a partition's bytes are its disk's
        // too, and loop, RAM and zram devices are not a disk's bytes.
        if !std::path::Path::new(&format!("/sys/block/{name}/device")).exists() {
            continue;
        }
        let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        out[0] += n(5);
        out[1] += n(9);
        out[2] = out[2].max(n(12));
    }
    out
}

pub struct ProcCpu {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

/// utime + stime of a `stat` line, in ticks (USER_HZ, 100 per second).
fn ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// The program a command line runs, by its file name: a full path (the
/// devbench kit's wrappers) or, started through the bundled dynamic loader
/// (`ld-linux… --library-path DIRS PROGRAM`), the program it loads.
fn program(cmd: &str) -> &str {
    fn name(w: Option<&str>) -> &str {
        w.map_or("", |w| w.rsplit('/').next().unwrap_or(w))
    }
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let at = |i: usize| words.get(i).copied();
    match name(at(0)) {
        l if l.starts_with("ld-linux") && at(1) == Some("--library-path") => name(at(3)),
        l if l.starts_with("ld-linux") => name(at(1)),
        n => n,
    }
}

/// What a process is, from its command line.
fn label(cmd: &str) -> String {
    let side = if cmd.contains("/old/") { "old" } else { "new" };
    let named = [
        ("delta reader", "helper: delta reader (source, librbd)"),
        ("staging writer", "helper: writer + read-back (new, librbd)"),
        ("/deps/", "the bench process (this sampler)"),
    ];
    // The compiled helper runs from a memory file (src/storage/compiled_helper.rs).
    if cmd.starts_with("/proc/self/fd/") {
        let job = cmd.split_whitespace().nth(1).unwrap_or("");
        let what = if job == "read" {
            "delta reader (source"
        } else {
            "writer + read-back (new"
        };
        return format!("helper: {what}, compiled)");
    }
    if let Some((_, l)) = named.iter().find(|(k, _)| cmd.contains(k)) {
        return l.to_string();
    }
    match program(cmd) {
        "ceph-osd" => format!("ceph-osd {side}"),
        "ceph-mon" => format!("ceph-mon {side}"),
        "ceph-mgr" => format!("ceph-mgr {side}"),
        "rbd" => "rbd CLI".into(),
        _ if cmd.contains("venv-") || cmd.contains("uwsgi") => "OpenStack services".into(),
        _ => "other".into(),
    }
}

fn sample(own: &str) -> Vec<(String, u64)> {
    let mut rows = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return rows;
    };
    for e in dir.flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.starts_with(own) {
            // stackmigrate itself: thread by thread, by name.
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
                continue;
            };
            for t in tasks.flatten() {
                let path = t.path();
                let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
                if let Some(n) = std::fs::read_to_string(path.join("stat"))
                    .ok()
                    .as_deref()
                    .and_then(ticks)
                {
                    let tid = t.file_name().to_string_lossy().into_owned();
                    rows.push((format!("stackmigrate {tid} {}", name.trim()), n));
                }
            }
            continue;
        }
        let Some(n) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .as_deref()
            .and_then(ticks)
        else {
            continue;
        };
        let what = if cmd.is_empty() {
            // A kernel thread (page cache writeback, the block layer): by
            // name, without its instance number.
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.trim().split(['/', ':', '-']).next().unwrap_or("").to_string();
            format!("kernel: {comm}")
        } else {
            label(&cmd)
        };
        rows.push((format!("{pid} {what}"), n));
    }
    rows
}

impl ProcCpu {
    /// Starts sampling; `own` is stackmigrate's binary path.
    pub fn start(own: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let (flag, own) = (stop.clone(), own.to_string());
        let thread = std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push((start.elapsed().as_secs_f64(), sample(&own), disks()));
                std::thread::sleep(Duration::from_millis(50));
            }
            samples
        });
        Self { stop, thread }
    }

    /// Stops; the lines of a table of CPU-seconds by what ran between `from`
    /// and `to` seconds after the start (stackmigrate by thread name).
    pub fn report(self, from: f64, to: f64, indent: &str) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let samples = self.thread.join().expect("sampler");
        // Ticks of each key at its last sample at or before `from` (or the
        // first sample; none: it started after), and at or before `to`.
        // A process is counted by its pid: one that has exited but is not
        // yet reaped (a zombie) has no cmdline any more and would read as a
        // kernel thread, its whole CPU counted a second time.
        let pid_of = |k: &str| match k.strip_prefix("stackmigrate ") {
            Some(_) => k.to_string(),
            None => k.split_once(' ').map_or(k, |(pid, _)| pid).to_string(),
        };
        let mut labels: HashMap<String, String> = HashMap::new();
        for (k, _) in samples.iter().flat_map(|(_, rows, _)| rows) {
            let label = labels.entry(pid_of(k)).or_insert_with(|| k.clone());
            if label.contains(" kernel: ") && !k.contains(" kernel: ") {
                *label = k.clone();
            }
        }
        let (mut first, mut last) = (HashMap::new(), HashMap::new());
        let (mut disk_from, mut disk_to) = ([0; 3], [0; 3]);
        for (i, (t, rows, disk)) in samples.iter().enumerate() {
            if *t <= from || i == 0 {
                disk_from = *disk;
            }
            if *t <= to + 0.05 {
                disk_to = *disk;
            }
            for (k, n) in rows {
                let k = &pid_of(k);
                if *t <= from || i == 0 {
                    first.insert(k.clone(), *n);
                }
                if *t <= to + 0.05 {
                    last.insert(k.clone(), *n);
                }
            }
        }
        let mut by: HashMap<String, u64> = HashMap::new();
        for (pid, n) in &last {
            let used = n.saturating_sub(first.get(pid).copied().unwrap_or(0));
            let k = &labels[pid];
            // "<pid> label" or "stackmigrate <tid> name": summed by label / name.
            let what = match k.strip_prefix("stackmigrate ") {
                Some(rest) => format!("stackmigrate: {}", rest.split_once(' ').map_or(rest, |(_, n)| n)),
                None => k.split_once(' ').map_or(k.as_str(), |(_, l)| l).to_string(),
            };
            *by.entry(what).or_default() += used;
        }
        let mut rows: Vec<_> = by.into_iter().filter(|(_, n)| *n > 0).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: u64 = rows.iter().map(|r| r.1).sum();
        let mut lines = vec![format!(
            "{indent}CPU-seconds by process in those {:.2} s ({:.2} CPU-s, /proc sampled every 50 ms):",
            to - from,
            total as f64 / 100.0
        )];
        lines.extend(
            rows.into_iter()
                .map(|(what, n)| format!("{indent}  {:>6.2}  {what}", n as f64 / 100.0)),
        );
        let d = |i: usize| disk_to[i].saturating_sub(disk_from[i]);
        lines.push(format!(
            "{indent}disk in those {:.2} s: read {:.0} MiB, written {:.0} MiB ({:.0} MiB/s together); an I/O in flight {:.0} % of the time",
            to - from,
            d(0) as f64 / 2048.0,
            d(1) as f64 / 2048.0,
            (d(0) + d(1)) as f64 / 2048.0 / (to - from).max(0.01),
            d(2) as f64 / 10.0 / (to - from).max(0.01)
        ));
        lines
    }
}

//! The demo's running servers. While a server is ACTIVE it writes a few
//! random 64 KiB blocks a second into every volume attached to it (the old
//! pool's image files, one whole-block `pwrite` each: the file store's
//! snapshot is a copy, so it sees each block before or after, never half),
//! and warm sync has something new to copy in every round. Stopping a server
//! (ACTIVE → SHUTOFF, its Cinder attachment kept, as `openstack server stop`
//! does) ends its writes; a maintenance window can do that by itself some
//! time after the migration started.

use super::http::{lock, Shared};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

const BLOCK: u64 = 64 * 1024;
const GIB: u64 = 1 << 30;
/// Four ticks a second, up to two blocks per volume each: about four blocks
/// (256 KiB) a second per volume.
const TICK: Duration = Duration::from_millis(250);

pub struct LiveServers {
    pub old: Shared,
    pub new: Shared,
    /// Stop the servers this long after the new cloud got its first volume
    /// (the migration started); `None`: only [`stop_servers`] stops them.
    pub maintenance_after: Option<Duration>,
    /// What the simulated operator did, for the demo to show.
    pub notes: UnboundedSender<String>,
}

/// The image files of the volumes an ACTIVE server is attached to, with their sizes.
fn written(old: &Shared) -> Vec<(PathBuf, u64)> {
    let s = lock(old);
    let active = |server: &str| {
        s.instances
            .iter()
            .any(|i| i.id == server && i.ended_at.is_none() && i.status == "ACTIVE")
    };
    s.volumes
        .values()
        .filter(|v| v.attachments.iter().any(|(server, _)| active(server)))
        .map(|v| (s.store_dir.join(format!("volume-{}", v.id)), v.size * GIB))
        .collect()
}

/// Shuts off every ACTIVE server a volume is attached to; returns their
/// names, sorted. The attachments stay: a SHUTOFF server cannot write.
pub fn stop_servers(old: &Shared) -> Vec<String> {
    let mut s = lock(old);
    let attached: Vec<String> = s
        .volumes
        .values()
        .flat_map(|v| v.attachments.iter().map(|(server, _)| server.clone()))
        .collect();
    let mut names = Vec::new();
    for i in s.instances.iter_mut() {
        if i.status == "ACTIVE" && i.ended_at.is_none() && attached.contains(&i.id) {
            i.status = "SHUTOFF";
            names.push(i.name.clone());
        }
    }
    // A kept demo finds them stopped on its next run.
    super::sim_state::save(&mut s);
    names.sort();
    names
}

/// xorshift64: the demo's writes need to differ, not to be unpredictable.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn block(&mut self) -> Vec<u8> {
        (0..BLOCK / 8).flat_map(|_| self.next().to_le_bytes()).collect()
    }
}

impl LiveServers {
    pub async fn run(self, stop: CancellationToken) {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        let mut noise = Noise(seed | 1);
        let mut window: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.cancelled() => return,
            }
            if let Some(after) = self.maintenance_after {
                if window.is_none() && !lock(&self.new).volumes.is_empty() {
                    window = Some(tokio::time::Instant::now() + after);
                }
                if window.is_some_and(|at| tokio::time::Instant::now() >= at) {
                    let names = stop_servers(&self.old);
                    let line = format!(
                        "maintenance window: the operator stopped {} (SHUTOFF); their volumes are no longer written and can be cut over",
                        if names.is_empty() { "no server".to_string() } else { names.join(", ") }
                    );
                    tracing::info!("simulated {line}");
                    let _ = self.notes.send(line);
                    return;
                }
            }
            for (path, size) in written(&self.old) {
                let blocks = size / BLOCK;
                for _ in 0..noise.next() % 3 {
                    if blocks == 0 {
                        break;
                    }
                    let off = noise.next() % blocks * BLOCK;
                    let data = noise.block();
                    let wrote = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .and_then(|f| f.write_all_at(&data, off));
                    if let Err(e) = wrote {
                        tracing::debug!("simulated server write to {}: {e}", path.display());
                    }
                }
            }
        }
    }
}

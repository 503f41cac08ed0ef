//! SIGINT, SIGTERM and SIGHUP as one stream of stop requests, for every
//! client of the engine (headless `migrate`, the TUI). The first asks for a
//! graceful shutdown (children stopped by group, journal kept, terminal
//! restored); the client decides what a second one forces.
//!
//! Children run in their own process groups, so a closed SSH session or a
//! `systemctl stop` reaches them only through this: without it a `{file}`
//! tape command could keep the drive busy after stackmigrate died.

use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct StopSignals {
    int: Signal,
    term: Signal,
    /// `None` when SIGHUP was ignored at start (`nohup`): that choice stands.
    hup: Option<Signal>,
}

impl StopSignals {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: if hangup_ignored() {
                None
            } else {
                Some(signal(SignalKind::hangup())?)
            },
        })
    }

    /// The name of the next stop signal.
    pub async fn recv(&mut self) -> &'static str {
        let hup = async {
            match self.hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = hup => "SIGHUP",
        }
    }
}

/// Whether this process started with SIGHUP ignored, read from
/// `/proc/self/status` (`SigIgn`, a hex mask; bit 0 is signal 1, SIGHUP).
fn hangup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & 1 != 0)
}

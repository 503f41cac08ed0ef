//! Headless output: one JSON object per event (`--json`), or readable lines
//! with progress at most every 2 s per volume and stage.

use crate::engine::EngineEvent;
use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

pub struct EventPrinter {
    json: bool,
    last: HashMap<(String, &'static str), Instant>,
    started: HashMap<(String, &'static str), Instant>,
}

impl EventPrinter {
    pub fn new(json: bool) -> Self {
        Self {
            json,
            last: HashMap::new(),
            started: HashMap::new(),
        }
    }

    pub fn print(&mut self, e: &EngineEvent) {
        let line = if self.json {
            serde_json::to_string(e).ok()
        } else {
            // Names and API messages come from the clouds: no control character reaches the terminal.
            self.human(e).map(|l| crate::escaped::escape(&l).into_owned())
        };
        if let Some(line) = line {
            let mut out = std::io::stdout().lock();
            // A closed stdout (piped into head) must not stop the migration.
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    fn human(&mut self, e: &EngineEvent) -> Option<String> {
        let short = |v: &str| v.get(..8).unwrap_or(v).to_string();
        Some(match e {
            EngineEvent::Planned { project, volumes } => {
                format!("plan: {} volume(s) of project {project}", volumes.len())
            }
            EngineEvent::StateChanged { volume, phase } => format!("{} → {phase:?}", short(volume)),
            EngineEvent::StageStarted { volume, stage } => {
                let now = Instant::now();
                self.started.insert((volume.clone(), stage.as_str()), now);
                self.last.insert((volume.clone(), stage.as_str()), now);
                format!("{} {stage} started", short(volume))
            }
            EngineEvent::Progress {
                volume,
                stage,
                bytes,
                total,
            } => {
                let key = (volume.clone(), stage.as_str());
                let now = Instant::now();
                if self
                    .last
                    .get(&key)
                    .is_some_and(|t| now.duration_since(*t).as_secs() < 2)
                {
                    return None;
                }
                self.last.insert(key.clone(), now);
                let secs = self
                    .started
                    .get(&key)
                    .map_or(0.0, |t| now.duration_since(*t).as_secs_f64())
                    .max(0.001);
                let rate = *bytes as f64 / secs;
                // A round's total is an estimate (the last round's bytes):
                // past it, what has moved so far instead of a percentage.
                let done = if *total > 0 && total >= bytes {
                    format!("{:5.1}%", 100.0 * *bytes as f64 / *total as f64)
                } else {
                    format!("{} MiB so far", bytes >> 20)
                };
                let eta = if rate > 0.0 && total > bytes {
                    format!(", ETA {:.0} s", (total - bytes) as f64 / rate)
                } else {
                    String::new()
                };
                format!(
                    "{} {stage} {done} {:.0} MiB/s{eta}",
                    short(volume),
                    rate / (1u64 << 20) as f64
                )
            }
            EngineEvent::Notice { volume: _, message } => format!("note: {message}"),
            EngineEvent::Log { volume, line } => match volume {
                Some(v) => format!("{} {line}", short(v)),
                None => line.clone(),
            },
            EngineEvent::StageFinished { volume, stage } => format!("{} {stage} finished", short(volume)),
            EngineEvent::StartedOver { volume, attempt } => {
                format!("{} started over (attempt {attempt}): copied afresh", short(volume))
            }
            EngineEvent::VolumeFailed {
                volume,
                stage,
                error,
                attempt,
            } => {
                format!("{} FAILED at {stage} (attempt {attempt}): {error}", short(volume))
            }
            EngineEvent::CleanupAction { volume, action } => match volume {
                Some(v) => format!("{} cleanup: {action}", short(v)),
                None => format!("cleanup: {action}"),
            },
            EngineEvent::UsageMonth(m) => format!(
                "usage {}: {:.1} h, {:.1} vCPU-h, {} servers",
                m.month, m.total_hours, m.total_vcpus_usage, m.servers
            ),
            EngineEvent::SyncRound {
                volume,
                round,
                bytes,
                seconds,
                projected_cutover_s,
                last,
                ..
            } => format!(
                "{} {} {round}: {} changed in {seconds:.1} s{}",
                short(volume),
                if *last { "final round" } else { "synced, round" },
                crate::units::bytes(*bytes),
                if *last {
                    String::new()
                } else {
                    format!("; a cutover now would take about {projected_cutover_s:.0} s")
                }
            ),
            EngineEvent::Finished(s) => {
                let mut line = format!(
                    "finished: {} of {} verified ({} with a tape copy owed), {} failed, {} aborted",
                    s.verified, s.total, s.backup_failed, s.failed, s.aborted
                );
                if s.not_started > 0 {
                    line += &format!(", {} not started (run again to copy them)", s.not_started);
                }
                if s.synced > 0 {
                    line += &format!(
                        ", {} synced and waiting for cutover ({} refused): not migrated yet",
                        s.synced, s.cutover_refused
                    );
                }
                if s.crash_consistent > 0 {
                    line += &format!(
                        ", {} copied while a server could write (crash-consistent, later writes NOT copied)",
                        s.crash_consistent
                    );
                }
                format!("{line}; report {}", s.report_md)
            }
        })
    }
}

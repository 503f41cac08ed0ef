//! Configuration: the first thing every command loads. Three sources end in one
//! validated [`Config`]: a seed-compatible `credentials.json`
//! ([`Config::from_json_file`]), clouds.yaml (`clouds_yaml`), and `OS_*`
//! variables for a single cloud (`os_env`).

mod cloud_config;
mod clouds_yaml;
mod config_error;
mod json_locator;
mod loader;
mod os_env;
mod secret;
mod validate;

pub use cloud_config::{AuthMethod, CephConfig, CloudConfig, Domain, FilesConfig, Interface, ProjectScope};
pub use clouds_yaml::{find_clouds_yaml, load_cloud as load_cloud_from_yaml, CloudsYamlSearch};
pub use config_error::ConfigError;
pub use json_locator::locate;
pub use loader::permission_warning;
pub use os_env::cloud_from_env;
pub use secret::Secret;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything one migration run needs, validated.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub old_cloud: CloudConfig,
    pub new_cloud: CloudConfig,
    pub work_dir: PathBuf,
    /// Required, but may be `null`: no export file is kept (no staging
    /// disk), each export streams straight into the new cluster.
    #[serde(deserialize_with = "nullable")]
    pub export_dir: Option<PathBuf>,
    #[serde(default)]
    pub usage: Option<UsagePeriod>,
    /// `None` (or `null`) disables the tape copy.
    #[serde(default)]
    pub tape: Option<TapeConfig>,
    #[serde(default)]
    pub import_strategy: ImportStrategy,
    /// Old volume type name → new volume type name. Unmapped types are sent as-is.
    #[serde(default)]
    pub volume_type_map: BTreeMap<String, String>,
    #[serde(default)]
    pub concurrency: Concurrency,
    /// How long the new cluster may take no data before a copy into it
    /// fails: with an export file the export goes on without its stage; a
    /// warm-sync round or a cutover fails (letting go of the source's lock),
    /// to be retried once the cluster answers again.
    #[serde(default = "stall_seconds")]
    pub stall_seconds: u64,
}

/// The default for [`Config::stall_seconds`].
pub fn stall_seconds() -> u64 {
    60
}

/// Below this, a healthy round can fail: the writer that follows one that
/// was stopped waits about 30 s for Ceph to let go of the new image's lock
/// (the stopped writer's watch timing out), taking no data meanwhile.
pub const STALL_SECONDS_SAFE: u64 = 45;

impl Config {
    /// What to tell the operator of a `stall_seconds` that is allowed but
    /// short enough to fail a healthy round.
    pub fn stall_warning(&self) -> Option<String> {
        (self.stall_seconds < STALL_SECONDS_SAFE).then(|| {
            format!(
                "stall_seconds is {}: below {STALL_SECONDS_SAFE} s a healthy copy can fail after an earlier one into the same image was stopped (its lock takes about 30 s to be let go); the default is 60",
                self.stall_seconds
            )
        })
    }

    /// Several tape jobs at once without `tape.drives` run the same command,
    /// differing only by their file (or stdin): unless it picks a free drive
    /// itself, they write to the same device. Said at the start of a run.
    pub fn tape_warning(&self) -> Option<String> {
        let tapes = self.concurrency.tapes;
        if let Some(drives) = self.tape.as_ref().and_then(|t| t.drives.as_ref()) {
            return (tapes > 1 && tapes != drives.len()).then(|| {
                format!(
                    "concurrency.tapes ({tapes}) is not used: one tape job runs per drive in tape.drives ({})",
                    drives.len()
                )
            });
        }
        let tape = self.tape.as_ref()?;
        (self.concurrency.tapes > 1).then(|| {
            format!(
                "concurrency.tapes is {}: that many tape commands run at once with the same arguments ({}), each on its own volume; unless the command picks a free drive itself, they write to the same device; list the drives in tape.drives and put {{drive}} in the command, or set concurrency.tapes to 1",
                self.concurrency.tapes,
                tape.command.join(" ")
            )
        })
    }
}

impl Config {
    /// How many tape jobs run at once: one per listed drive, else
    /// `concurrency.tapes`.
    pub fn tape_jobs(&self) -> usize {
        match self.tape.as_ref().and_then(|t| t.drives.as_ref()) {
            Some(drives) => drives.len(),
            None => self.concurrency.tapes,
        }
    }

    /// A `{file}` tape template in a run that keeps no export file: refused.
    pub fn file_tape_without_export_file(&self) -> bool {
        self.export_dir.is_none()
            && self
                .tape
                .as_ref()
                .is_some_and(|t| crate::storage::needs_file(&t.command))
    }
}

/// A field that must be present but may be `null` (serde would otherwise
/// take a missing `Option` field as `None`).
fn nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    Option::deserialize(d)
}

/// The usage-archive period. Nova wants naive UTC timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UsagePeriod {
    #[serde(with = "naive_time")]
    pub start: NaiveDateTime,
    #[serde(with = "naive_time")]
    pub end: NaiveDateTime,
}

/// The tape command as an argv template. `{file}` is replaced by the export's
/// path; without a `{file}` argument the export is fed on stdin. `{drive}`
/// is replaced by the drive a tape job holds, from `drives`: as many jobs
/// run at once as there are drives, each on a drive of its own.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TapeConfig {
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drives: Option<Vec<String>>,
}

impl TapeConfig {
    /// Whether the command names the drive it writes to (`{drive}`).
    pub fn names_drive(&self) -> bool {
        self.command.iter().any(|a| a.contains("{drive}"))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStrategy {
    /// Create a Cinder volume, then replace its RBD image (member role suffices).
    #[default]
    Replace,
    /// Import the image under a temporary name and let Cinder adopt it (admin).
    Manage,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    #[serde(default = "two")]
    pub exports: usize,
    #[serde(default = "two")]
    pub imports: usize,
    #[serde(default = "one")]
    pub tapes: usize,
    #[serde(default = "four")]
    pub usage_queries: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Self {
            exports: 2,
            imports: 2,
            tapes: 1,
            usage_queries: 4,
        }
    }
}

fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn four() -> usize {
    4
}

/// Accepts `YYYY-MM-DDTHH:MM:SS[.ffffff]` or a bare `YYYY-MM-DD` (midnight).
/// A zone suffix is refused here, because Nova refuses it too.
pub mod naive_time {
    use chrono::{NaiveDate, NaiveDateTime};
    use serde::{Deserialize, Deserializer, Serializer};

    pub const FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

    pub fn parse(s: &str) -> Result<NaiveDateTime, String> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_time(chrono::NaiveTime::MIN)))
            .map_err(|_| {
                format!("invalid date {s:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC, no zone suffix)")
            })
    }

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format(FORMAT).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }
}

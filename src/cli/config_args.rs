//! Where the config comes from: `--config FILE` (credentials.json), or
//! `--old-cloud/--new-cloud` from clouds.yaml, or `OS_*` for a single cloud.

use crate::config::{self, CloudConfig, Concurrency, Config, ConfigError, ImportStrategy};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// A credentials.json (see credentials.example.json). Default: ./credentials.json if present.
    #[arg(long, global = true, env = "STACKMIGRATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The old cloud's name in clouds.yaml.
    #[arg(long, global = true)]
    pub old_cloud: Option<String>,
    /// The new cloud's name in clouds.yaml.
    #[arg(long, global = true)]
    pub new_cloud: Option<String>,
    /// Work directory when no credentials.json gives one.
    #[arg(long, global = true)]
    pub work_dir: Option<PathBuf>,
    /// Keep no export file (as `"export_dir": null`): each export streams
    /// straight into the new cluster, and the tape reads the stream on stdin.
    #[arg(long, global = true)]
    pub no_export_file: bool,
}

impl ConfigArgs {
    fn config_file(&self) -> Option<PathBuf> {
        self.config.clone().or_else(|| {
            let p = PathBuf::from("credentials.json");
            p.is_file().then_some(p)
        })
    }

    /// The full two-cloud config. Clouds named with `--old-cloud/--new-cloud`
    /// replace those of the credentials file, whose other settings still apply.
    pub fn load(&self) -> Result<(Config, Vec<String>), ConfigError> {
        let (mut cfg, warnings) = match self.config_file() {
            Some(f) => Config::from_json_file(&f)?,
            None => {
                let (Some(old), Some(new)) = (&self.old_cloud, &self.new_cloud) else {
                    return Err(self.no_config(std::env::var_os("OS_AUTH_URL").is_some()));
                };
                let search = config::find_clouds_yaml();
                let work = self
                    .work_dir
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("stackmigrate-work"));
                let cfg = Config {
                    old_cloud: config::load_cloud_from_yaml(old, &search)?,
                    new_cloud: config::load_cloud_from_yaml(new, &search)?,
                    export_dir: (!self.no_export_file).then(|| work.join("exports")),
                    work_dir: work,
                    usage: None,
                    tape: None,
                    import_strategy: ImportStrategy::Replace,
                    volume_type_map: Default::default(),
                    concurrency: Concurrency::default(),
                    stall_seconds: config::stall_seconds(),
                };
                let warnings = insecure_warnings(&cfg);
                return Ok((cfg, warnings));
            }
        };
        let search = config::find_clouds_yaml();
        if let Some(old) = &self.old_cloud {
            cfg.old_cloud = config::load_cloud_from_yaml(old, &search)?;
        }
        if let Some(new) = &self.new_cloud {
            cfg.new_cloud = config::load_cloud_from_yaml(new, &search)?;
        }
        if let Some(w) = &self.work_dir {
            cfg.work_dir = w.clone();
        }
        if self.no_export_file {
            cfg.export_dir = None;
            if cfg.file_tape_without_export_file() {
                return Err(ConfigError::Invalid {
                    file: self.config_file().unwrap_or_default(),
                    position: None,
                    field: "tape.command".into(),
                    message: crate::engine::NO_FILE_TAPE.into(),
                });
            }
        }
        let mut warnings = warnings;
        warnings.extend(insecure_warnings(&cfg));
        Ok((cfg, warnings))
    }

    /// Why a two-cloud command has no config, naming what is missing.
    fn no_config(&self, os_env: bool) -> ConfigError {
        let mut why = match (&self.old_cloud, &self.new_cloud) {
            (Some(_), None) => "--old-cloud NAME is given without --new-cloud NAME; name both clouds of clouds.yaml, or pass --config FILE".to_string(),
            (None, Some(_)) => "--new-cloud NAME is given without --old-cloud NAME; name both clouds of clouds.yaml, or pass --config FILE".to_string(),
            _ => "no ./credentials.json here; pass --config FILE (see credentials.example.json), or --old-cloud NAME --new-cloud NAME (clouds.yaml)".to_string(),
        };
        if os_env {
            why.push_str("; OS_* variables name one cloud, so they serve only `projects`, `volumes` and `usage`");
        }
        ConfigError::NoConfig(why)
    }

    /// The old cloud alone (for `projects`, `volumes`): from the credentials
    /// file, `--old-cloud`, `OS_CLOUD`, or `OS_*` variables, in that order.
    pub fn load_old_cloud(&self) -> Result<(CloudConfig, Vec<String>), ConfigError> {
        let (cloud, mut warnings) = self.old_cloud_only()?;
        warnings.extend(cloud.insecure_warning("old"));
        Ok((cloud, warnings))
    }

    fn old_cloud_only(&self) -> Result<(CloudConfig, Vec<String>), ConfigError> {
        if self.old_cloud.is_none() {
            if let Some(f) = self.config_file() {
                let (cfg, w) = Config::from_json_file(&f)?;
                return Ok((cfg.old_cloud, w));
            }
        }
        let name = self.old_cloud.clone().or_else(|| std::env::var("OS_CLOUD").ok());
        if let Some(name) = name {
            return Ok((
                config::load_cloud_from_yaml(&name, &config::find_clouds_yaml())?,
                Vec::new(),
            ));
        }
        match config::cloud_from_env(|k| std::env::var(k).ok())? {
            Some(c) => Ok((c, Vec::new())),
            None => Err(ConfigError::Env(
                "no cloud configured: pass --config FILE, --old-cloud NAME, or set OS_CLOUD / OS_AUTH_URL".into(),
            )),
        }
    }
}

/// What `usage` takes besides its cloud: where to write, the configured period
/// and how many queries at once.
#[derive(Debug, PartialEq)]
pub struct UsageSettings {
    pub work_dir: PathBuf,
    pub period: Option<config::UsagePeriod>,
    pub concurrency: usize,
}

impl ConfigArgs {
    /// `usage`'s settings: from the credentials file when there is one (an
    /// error in it is reported, naming the file and field, never passed over),
    /// `--work-dir` over both.
    pub fn usage_settings(&self) -> Result<UsageSettings, ConfigError> {
        let mut s = match self.config_file() {
            Some(f) => {
                let (cfg, _) = Config::from_json_file(&f)?;
                UsageSettings {
                    work_dir: cfg.work_dir,
                    period: cfg.usage,
                    concurrency: cfg.concurrency.usage_queries,
                }
            }
            None => UsageSettings {
                work_dir: PathBuf::from("stackmigrate-work"),
                period: None,
                concurrency: Concurrency::default().usage_queries,
            },
        };
        if let Some(w) = &self.work_dir {
            s.work_dir = w.clone();
        }
        Ok(s)
    }
}

/// One warning per cloud that skips TLS verification.
fn insecure_warnings(cfg: &Config) -> Vec<String> {
    [("old", &cfg.old_cloud), ("new", &cfg.new_cloud)]
        .into_iter()
        .filter_map(|(name, c)| c.insecure_warning(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>, work_dir: Option<&str>) -> ConfigArgs {
        ConfigArgs {
            config,
            old_cloud: Some("old".into()),
            new_cloud: None,
            work_dir: work_dir.map(PathBuf::from),
            no_export_file: false,
        }
    }

    /// A two-cloud command with no credentials file names what is missing:
    /// here `--new-cloud`, and it does not blame the `OS_*` variables.
    #[test]
    fn no_config_names_the_missing_cloud() {
        let half = args(None, None).no_config(false).to_string();
        assert_eq!(
            half,
            "no config: --old-cloud NAME is given without --new-cloud NAME; name both clouds of clouds.yaml, or pass --config FILE"
        );
        let none = ConfigArgs {
            old_cloud: None,
            ..args(None, None)
        };
        let e = none.no_config(true).to_string();
        assert!(
            e.starts_with("no config: no ./credentials.json here; pass --config FILE"),
            "{e}"
        );
        assert!(
            e.ends_with("OS_* variables name one cloud, so they serve only `projects`, `volumes` and `usage`"),
            "{e}"
        );
    }

    /// `usage --old-cloud NAME --work-dir DIR` with no credentials file writes
    /// under DIR, not under a `stackmigrate-work` in the current directory.
    #[test]
    fn usage_takes_work_dir_without_a_credentials_file() {
        let s = args(None, Some("/srv/sm")).usage_settings().expect("settings");
        assert_eq!(s.work_dir, PathBuf::from("/srv/sm"));
        assert_eq!(s.period, None);
        assert_eq!(s.concurrency, 4);
    }

    /// A credentials file with an error is reported, naming it, even when the
    /// cloud itself comes from `--old-cloud`.
    #[test]
    fn usage_reports_an_error_in_the_credentials_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("credentials.json");
        std::fs::write(&file, "{\"old_cloud\": 1}").expect("write");
        let e = args(Some(file), None).usage_settings().expect_err("a broken file");
        assert!(e.to_string().contains("credentials.json"), "{e}");
    }
}

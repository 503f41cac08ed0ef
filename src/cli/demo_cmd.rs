//! `stackmigrate demo`: the whole job against two simulated clouds in this
//! process, with nothing written outside a temporary directory unless
//! `--work-dir` is given.

use super::{run_migrate, Fatal, MigrateArgs};
use crate::sim::{Faults, SimClouds, SimOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run the migration without the dashboard and exit (CI does this).
    #[arg(long)]
    pub headless: bool,
    /// With --headless: one JSON object per event.
    #[arg(long)]
    pub json: bool,
    /// Faults to inject: export-fail:NAME, quota:NAME, token-expiry:SECONDS, tape-fail (comma-separated).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Copy speed limit in MiB/s so the panes are watchable (0: unlimited).
    #[arg(long, default_value_t = 8)]
    pub throttle: u64,
}

/// Running simulated clouds and the directory they live in.
pub struct Demo {
    pub clouds: SimClouds,
    pub dir: PathBuf,
    /// Removes the directory on drop when no --work-dir was given.
    _temp: Option<tempfile::TempDir>,
}

pub async fn start_demo(args: &DemoArgs, work_dir: Option<PathBuf>) -> Result<Demo, Fatal> {
    let faults = Faults::parse(&args.faults).map_err(Fatal)?;
    let (dir, temp) = match work_dir {
        Some(d) => (d, None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("stackmigrate-demo-")
                .tempdir()
                .map_err(|e| Fatal(format!("temporary directory: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let opts = SimOptions {
        dir: dir.clone(),
        faults,
        throttle_mib_s: Some(args.throttle),
    };
    let clouds = SimClouds::start(opts)
        .await
        .map_err(|e| Fatal(format!("simulated clouds in {}: {e}", dir.display())))?;
    Ok(Demo {
        clouds,
        dir,
        _temp: temp,
    })
}

/// The headless demo: migrate every volume of `research`; exit code as `migrate`.
pub async fn run_demo_headless(args: &DemoArgs, work_dir: Option<PathBuf>) -> Result<i32, Fatal> {
    let demo = start_demo(args, work_dir.clone()).await?;
    let migrate = MigrateArgs {
        project: "research".into(),
        volumes: "all".into(),
        strategy: None,
        dry_run: false,
        yes: true,
        json: args.json,
        keep_exports: false,
        in_use: "sync".into(),
        sync: false,
        cutover: false,
        force_cutover: false,
        full_verify: false,
    };
    let code = run_migrate(&demo.clouds.config, &migrate).await?;
    if !args.json {
        match work_dir {
            Some(d) => println!("demo outputs kept in {}", d.display()),
            None => println!(
                "demo ran in {} (removed on exit; pass --work-dir DIR to keep it)",
                demo.dir.display()
            ),
        }
    }
    Ok(code)
}

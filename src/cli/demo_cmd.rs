//! `stackmigrate demo`: the whole job against two simulated clouds in this
//! process, with nothing written outside a temporary directory (removed on
//! exit) but the log in the user's state dir, unless `--work-dir` is given:
//! that directory then keeps the log, the run and the clouds' state, and a
//! second run there resumes. The old cloud's ACTIVE servers keep writing to
//! their volumes, so those are warm-synced: the headless demo tells the
//! story an operator lives (migrate, another round, stop the servers, cut
//! over); in the dashboard a maintenance window stops them by itself.

use super::{run_migrate, Fatal, MigrateArgs};
use crate::config::Config;
use crate::exit_codes;
use crate::sim::{Faults, SimClouds, SimOptions};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Run the migration without the dashboard and exit (CI does this).
    #[arg(long)]
    pub headless: bool,
    /// With --headless: one JSON object per event.
    #[arg(long, requires = "headless")]
    pub json: bool,
    /// Faults to inject: export-fail:NAME, quota:NAME, token-expiry:SECONDS, tape-fail (comma-separated).
    #[arg(long, default_value = "")]
    pub faults: String,
    /// Copy speed limit in MiB/s so the panes are watchable (0: unlimited).
    #[arg(long, default_value_t = 8)]
    pub throttle: u64,
    /// Dashboard only: the simulated servers stop (a maintenance window) this
    /// many seconds after the migration started; until then a cutover is refused.
    #[arg(long, default_value_t = 40, value_name = "SECONDS")]
    pub maintenance_after: u64,
}

/// The dashboard's pause between two warm-sync rounds in the demo (a real
/// run waits longer): the rounds come every few seconds.
pub const DEMO_SYNC_PAUSE: Duration = Duration::from_secs(5);

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
            // Operator-only, as every directory stackmigrate makes.
            let t = tempfile::Builder::new()
                .prefix("stackmigrate-demo-")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
                .tempdir()
                .map_err(|e| Fatal(format!("temporary directory: {e}")))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let opts = SimOptions {
        // A kept directory keeps the clouds too: a second run resumes.
        keep_state: temp.is_none(),
        dir: dir.clone(),
        faults,
        throttle_mib_s: Some(args.throttle),
        live_servers: true,
        // The headless story stops the servers itself, as an operator would.
        maintenance_after: (!args.headless).then(|| Duration::from_secs(args.maintenance_after)),
        ..Default::default()
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

/// One line of the story, as the operator would read it (or one JSON object).
fn narrate(json: bool, line: &str) {
    if json {
        println!("{}", serde_json::json!({"event": "demo", "line": line}));
    } else {
        println!("demo: {line}");
    }
}

/// The headless demo: migrate every volume of `research`; the in-use ones
/// are warm-synced, get one more round, and are cut over once their servers
/// are stopped. The exit code is the last `migrate`'s, which counts every
/// volume (0: all verified).
pub async fn run_demo_headless(args: &DemoArgs, work_dir: Option<PathBuf>) -> Result<i32, Fatal> {
    let demo = start_demo(args, work_dir.clone()).await?;
    let say = |line: &str| narrate(args.json, line);
    let mut migrate = MigrateArgs {
        // broken-vol is in error on purpose: named and left, by choice.
        volumes: "migratable".into(),
        yes: true,
        json: args.json,
        ..MigrateArgs::new("research")
    };
    let cfg = &demo.clouds.config;
    say("1/4 migrate: volumes no running server writes to are copied in one pass; those of ACTIVE servers are warm-synced (round 1)");
    let mut code = run_migrate(cfg, &migrate).await?;
    if code != exit_codes::OK && code != exit_codes::INTERRUPTED {
        // The usage archive is written: the later steps leave it alone.
        let later = Config {
            usage: None,
            ..cfg.clone()
        };
        say("2/4 migrate --sync: the servers kept writing; one more round copies only what changed");
        migrate.sync = true;
        code = run_migrate(&later, &migrate).await?;
        if code == exit_codes::INTERRUPTED {
            return Ok(code);
        }
        let stopped = demo.clouds.stop_servers();
        say(&format!(
            "3/4 maintenance window: stopping {} (openstack server stop: SHUTOFF, volumes stay attached)",
            if stopped.is_empty() {
                "no server".to_string()
            } else {
                stopped.join(", ")
            }
        ));
        say("4/4 migrate --cutover: the final round, then each volume is verified and taped like any copy");
        migrate.sync = false;
        migrate.cutover = true;
        code = run_migrate(&later, &migrate).await?;
    }
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

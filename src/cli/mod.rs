//! The command line: argument types (clap) and one function per subcommand.
//! Commands print for people, or JSON with `--json`; they return
//! `color_eyre`-free library errors so `main` decides how to show them.

mod check;
mod cleanup_cmd;
mod config_args;
mod demo_cmd;
mod event_printer;
mod inventory_cmd;
mod migrate_args;
mod migrate_cmd;
mod usage_cmd;

pub use check::run_check;
pub use cleanup_cmd::run_cleanup_cmd;
pub use config_args::ConfigArgs;
pub use demo_cmd::{run_demo_headless, start_demo, Demo, DemoArgs, DEMO_SYNC_PAUSE};
pub use event_printer::EventPrinter;
pub use inventory_cmd::{run_projects, run_volumes};
pub use migrate_cmd::{run_migrate, select, Fatal, MigrateArgs};
pub use usage_cmd::{run_usage, UsageArgs};

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "stackmigrate",
    version,
    about = "Move one OpenStack project's volumes and usage history to a new cloud",
    after_help = crate::exit_codes::HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Log file (default: <work_dir>/stackmigrate.log; without a work dir
    /// $XDG_STATE_HOME/stackmigrate/stackmigrate.log, i.e. ~/.local/state/…). A symlink there is refused.
    #[arg(long, global = true)]
    pub log_file: Option<PathBuf>,
    /// Without a command: the terminal dashboard.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Config file checks.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The whole job against simulated clouds (nothing to install).
    Demo(DemoArgs),
    /// Authenticate to both clouds, reach both Ceph clusters, check the export dir.
    Check,
    /// List the old cloud's projects.
    Projects {
        #[arg(long)]
        json: bool,
    },
    /// Migrate a project's volumes (headless). Re-running resumes.
    #[command(after_help = crate::exit_codes::HELP)]
    Migrate(MigrateArgs),
    /// Phase 5 alone: delete verified and taped exports, remove leftovers.
    Cleanup {
        /// Old-cloud project name or id.
        #[arg(long)]
        project: String,
    },
    /// Phase 4 alone: archive a project's usage history.
    Usage(UsageArgs),
    /// List one old-cloud project's volumes.
    Volumes {
        /// Project name or id.
        #[arg(long)]
        project: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a credentials.json; exits non-zero with one line naming the problem.
    Validate { file: PathBuf },
}

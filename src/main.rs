//! The binary's edge: parse the command line, install color-eyre and file
//! logging, run one command, turn library errors into an exit status
//! (`stackmigrate::exit_codes`).

use clap::Parser as _;
use color_eyre::eyre::{eyre, Result};
use stackmigrate::cli::{self, Cli, Command, ConfigAction};
use stackmigrate::config::Config;
use stackmigrate::exit_codes;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("cannot install error reporting: {e}");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return parse_failure(&e),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // One line for the operator: the crate's messages carry their
            // cause already, so the chain (`{e:#}`) would say it twice.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// clap exits 2 on a usage error, which `migrate` uses for "some volumes need
/// attention": a usage error gets its own code, while `--help` and
/// `--version` (which clap also reports as "errors") still exit 0.
fn parse_failure(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(exit_codes::USAGE as u8)
    } else {
        ExitCode::SUCCESS
    }
}

/// `--log-file`, else the work dir's log, else one in the user's state dir.
fn log_path(cli: &Cli, work_dir: Option<&PathBuf>) -> Option<PathBuf> {
    cli.log_file
        .clone()
        .or_else(|| stackmigrate::logging::default_path(work_dir.map(PathBuf::as_path)))
}

fn start_logging(cli: &Cli, work_dir: Option<&PathBuf>) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let Some(file) = log_path(cli, work_dir) else {
        eprintln!("warning: no log file: neither XDG_STATE_HOME nor HOME is set; pass --log-file");
        return None;
    };
    match stackmigrate::logging::init(&file) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("warning: cannot log to {}: {e}", file.display());
            None
        }
    }
}

/// The dashboard draws on a terminal: without one (cron, `ssh` without `-t`,
/// a pipe) it says so, instead of failing inside the terminal's setup.
fn no_terminal() -> Option<ExitCode> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return None;
    }
    eprintln!("error: the dashboard needs a terminal, and stdin or stdout is not one here; run it in a terminal, or without one use `stackmigrate migrate --project P --yes` (the demo: `stackmigrate demo --headless`)");
    Some(ExitCode::from(exit_codes::USAGE as u8))
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let Some(command) = &cli.command else {
        if let Some(code) = no_terminal() {
            return Ok(code);
        }
        let (cfg, warnings) = cli.config.load()?;
        let _guard = start_logging(&cli, Some(&cfg.work_dir));
        warnings.iter().for_each(|w| tracing::warn!("{w}"));
        let log = log_path(&cli, Some(&cfg.work_dir)).unwrap_or_default();
        let launch = stackmigrate::tui::Launch {
            warnings,
            ..Default::default()
        };
        let code = stackmigrate::tui::run(cfg, log, launch).await?;
        return Ok(ExitCode::from(code as u8));
    };
    match command {
        Command::Config {
            action: ConfigAction::Validate { file },
        } => match Config::from_json_file_checked(file) {
            Ok((_, warnings)) => {
                for w in warnings {
                    eprintln!("{w}");
                }
                println!("{}: OK", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Demo(args) => {
            if cli.config.no_export_file {
                // Said rather than ignored: the demo's story warm-syncs, which needs the file.
                eprintln!("demo: --no-export-file is for migrate and the dashboard on real clouds; the demo warm-syncs volumes of running servers, which keeps the export file");
                return Ok(ExitCode::from(exit_codes::USAGE as u8));
            }
            if !args.headless {
                if let Some(code) = no_terminal() {
                    return Ok(code);
                }
            }
            let log_dir = cli.config.work_dir.clone();
            let _guard = start_logging(&cli, log_dir.as_ref());
            let work_dir = cli.config.work_dir.clone();
            let removed_on_exit = work_dir.is_none();
            let result = if args.headless {
                cli::run_demo_headless(args, work_dir).await
            } else {
                // The dashboard, against the simulated clouds (kept alive until it exits).
                match cli::start_demo(args, work_dir).await {
                    Ok(mut demo) => {
                        let log = log_path(&cli, log_dir.as_ref()).unwrap_or_default();
                        let launch = stackmigrate::tui::Launch {
                            sync_pause: Some(cli::DEMO_SYNC_PAUSE),
                            notes: demo.clouds.notes.take(),
                            removed_on_exit,
                            ..Default::default()
                        };
                        let code = stackmigrate::tui::run(demo.clouds.config.clone(), log, launch).await?;
                        if removed_on_exit {
                            eprintln!(
                                "demo ran in {} (removed on exit; pass --work-dir DIR to keep it and resume)",
                                demo.dir.display()
                            );
                        }
                        Ok(code)
                    }
                    Err(e) => Err(e),
                }
            };
            let code = result.unwrap_or_else(|e| {
                eprintln!("error: {e}");
                exit_codes::FATAL
            });
            Ok(ExitCode::from(code as u8))
        }
        Command::Check => {
            let (cfg, warnings) = cli.config.load()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            let _guard = start_logging(&cli, Some(&cfg.work_dir));
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            let lines = cli::run_check(&cfg).await;
            let failed = lines.iter().filter(|l| !l.ok).count();
            for l in &lines {
                println!("{l}");
            }
            if failed == 0 {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("{failed} problem(s) found");
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Migrate(args) => {
            if let Some(e) = args.usage_error(cli.config.no_export_file) {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(exit_codes::USAGE as u8));
            }
            let (cfg, warnings) = cli.config.load()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            let guard = start_logging(&cli, Some(&cfg.work_dir));
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            let code = match cli::run_migrate(&cfg, args).await {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("error: {e}");
                    exit_codes::FATAL
                }
            };
            drop(guard);
            Ok(ExitCode::from(code as u8))
        }
        Command::Cleanup { project } => {
            let (cfg, warnings) = cli.config.load()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            let _guard = start_logging(&cli, Some(&cfg.work_dir));
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            let code = cli::run_cleanup_cmd(&cfg, project).await.unwrap_or_else(|e| {
                eprintln!("error: {e}");
                exit_codes::FATAL
            });
            Ok(ExitCode::from(code as u8))
        }
        Command::Usage(args) => {
            let (cloud, warnings) = cli.config.load_old_cloud()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            // The period, work dir and limits come from a credentials file when there is one.
            let settings = cli.config.usage_settings()?;
            let work_dir = settings.work_dir;
            let _guard = start_logging(&cli, Some(&work_dir));
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            let code = cli::run_usage(&cloud, settings.period, &work_dir, settings.concurrency, args)
                .await
                .unwrap_or_else(|e| {
                    eprintln!("error: {e}");
                    exit_codes::FATAL
                });
            Ok(ExitCode::from(code as u8))
        }
        Command::Projects { json } => {
            let (cloud, warnings) = cli.config.load_old_cloud()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            let _guard = start_logging(&cli, None);
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            print!("{}", cli::run_projects(&cloud, *json).await.map_err(|e| eyre!(e))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Volumes { project, json } => {
            let (cloud, warnings) = cli.config.load_old_cloud()?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            let _guard = start_logging(&cli, None);
            warnings.iter().for_each(|w| tracing::warn!("{w}"));
            print!(
                "{}",
                cli::run_volumes(&cloud, project, *json).await.map_err(|e| eyre!(e))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

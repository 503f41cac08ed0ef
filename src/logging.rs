//! Tracing to a file, never to stdout (stdout belongs to the TUI and to
//! `--json` output). HTTP-stack noise is capped at `warn` whatever `RUST_LOG` says,
//! so request headers (tokens) cannot be logged by a dependency.

use std::path::Path;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// Starts logging into `file` (appending). Keep the guard alive until exit.
pub fn init(file: &Path) -> std::io::Result<WorkerGuard> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    crate::storage::private_fs::create_dir_all(dir)?;
    let appender = crate::storage::private_fs::options()
        .create(true)
        .append(true)
        .open(file)?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let mut filter = EnvFilter::try_from_env("STACKMIGRATE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,stackmigrate=debug"));
    for quiet in [
        "hyper=warn",
        "hyper_util=warn",
        "reqwest=warn",
        "h2=warn",
        "rustls=warn",
    ] {
        if let Ok(d) = quiet.parse() {
            filter = filter.add_directive(d);
        }
    }
    // A second init (tests calling twice) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
    Ok(guard)
}

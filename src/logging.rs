//! Tracing to a file, never to stdout (stdout belongs to the TUI and to
//! `--json` output). HTTP-stack noise is capped at `warn` whatever `RUST_LOG` says,
//! so request headers (tokens) cannot be logged by a dependency.
//!
//! The file is the work dir's `stackmigrate.log`, or, with no work dir, one in
//! `$XDG_STATE_HOME/stackmigrate/` (`~/.local/state/stackmigrate/`): never a
//! predictable name in a shared directory such as `/tmp`. It is opened without
//! following a symbolic link, mode 0600.

use crate::storage::private_fs;
use std::ffi::OsString;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log's file name in its directory.
pub const FILE_NAME: &str = "stackmigrate.log";

/// The default log file: in `work_dir` when there is one, else in the user's
/// state directory; `None` when neither `XDG_STATE_HOME` nor `HOME` is set.
pub fn default_path(work_dir: Option<&Path>) -> Option<PathBuf> {
    match work_dir {
        Some(w) => Some(w.join(FILE_NAME)),
        None => state_dir(|k| std::env::var_os(k)).map(|d| d.join(FILE_NAME)),
    }
}

/// The user's state directory ([`state_dir`] from the environment).
pub fn state_dir_of_user() -> Option<PathBuf> {
    state_dir(|k| std::env::var_os(k))
}

/// `$XDG_STATE_HOME/stackmigrate`, or `$HOME/.local/state/stackmigrate`. The
/// XDG spec says a relative `XDG_STATE_HOME` is invalid and must be ignored.
fn state_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |k: &str| var(k).map(PathBuf::from).filter(|p| p.is_absolute());
    absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|h| h.join(".local/state")))
        .map(|d| d.join("stackmigrate"))
}

/// Opens `file` for appending: created 0600 (an existing one made 0600: the
/// log names tenants' volumes), never through a symbolic link (someone who
/// can write the directory must not redirect our writes).
fn open(file: &Path) -> std::io::Result<std::fs::File> {
    let nofollow = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
    let opened = private_fs::options()
        .create(true)
        .append(true)
        .custom_flags(nofollow)
        .open(file);
    if let Ok(f) = &opened {
        private_fs::make_private(f)?;
    }
    opened.map_err(|e| {
        if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
            std::io::Error::other(
                "it is a symbolic link, which is not followed; remove it or pass --log-file with another path",
            )
        } else {
            e
        }
    })
}

/// Starts logging into `file` (appending). Keep the guard alive until exit.
pub fn init(file: &Path) -> std::io::Result<WorkerGuard> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    private_fs::create_dir_all(dir)?;
    let (writer, guard) = tracing_appender::non_blocking(open(file)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn the_state_dir_follows_xdg_then_home() {
        let both = [("XDG_STATE_HOME", "/s"), ("HOME", "/h")];
        assert_eq!(state_dir(env(&both)), Some(PathBuf::from("/s/stackmigrate")));
        let home = [("XDG_STATE_HOME", "relative"), ("HOME", "/h")];
        assert_eq!(
            state_dir(env(&home)),
            Some(PathBuf::from("/h/.local/state/stackmigrate"))
        );
        assert_eq!(state_dir(env(&[])), None, "no guess in a shared directory");
        let work = default_path(Some(Path::new("/w")));
        assert_eq!(work, Some(PathBuf::from("/w/stackmigrate.log")));
    }

    #[test]
    fn a_symlink_at_the_log_path_is_not_followed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (link, target) = (tmp.path().join("log"), tmp.path().join("target"));
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let e = open(&link).expect_err("refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!target.exists(), "nothing created through the link");
    }

    #[test]
    fn an_existing_log_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("stackmigrate.log");
        std::fs::write(&log, "an earlier run\n").expect("write");
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        open(&log).expect("open");
        let mode = std::fs::metadata(&log).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

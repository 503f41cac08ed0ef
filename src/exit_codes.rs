//! The process exit statuses, in one place: `main` and every command return
//! these, and `--help` (`HELP`) and the README list them. A script must be
//! able to tell a typo (64) from a partial migration (2).

/// Everything asked for was done (all volumes verified and taped).
pub const OK: i32 = 0;
/// Fatal: config, authentication, pre-flight; nothing (more) was started.
pub const FATAL: i32 = 1;
/// The run ended but some volumes (or the usage archive, or a cleanup) need
/// attention: see report.md; a re-run resumes.
pub const ATTENTION: i32 = 2;
/// Warm sync: the selected volumes are synced and wait for cutover (nothing
/// needs attention); run `migrate --sync` again for another round, or
/// `migrate --cutover` once their servers are stopped.
pub const SYNCED: i32 = 3;
/// The command line was wrong (`EX_USAGE` from sysexits.h): unknown command
/// or flag, missing or invalid argument. Nothing was contacted.
pub const USAGE: i32 = 64;
/// Stopped by SIGINT, SIGTERM or SIGHUP (128 + SIGINT, whatever the signal):
/// the journal is consistent and a re-run resumes.
pub const INTERRUPTED: i32 = 130;

/// The exit-code table shown after `--help`.
pub const HELP: &str = "\
Exit codes:
    0  ok: every selected volume verified (and taped), or the command succeeded
    1  fatal: config, authentication or pre-flight error; nothing (more) was started
    2  attention needed: some volumes, the usage archive or a cleanup need a look (report.md); re-run resumes
    3  warm sync: volumes synced and waiting for cutover (migrate --sync again, or migrate --cutover)
   64  usage error: unknown command or flag, missing or invalid argument
  130  stopped by SIGINT, SIGTERM or SIGHUP; re-run resumes";

/// 0 all verified; 3 the rest synced and waiting for cutover; 2 anything
/// that needs a look (a failure, a refused cutover, a crash-consistent copy).
pub fn of_run(s: &crate::engine::Summary, usage_ok: bool) -> i32 {
    let attention = s.failed + s.aborted + s.backup_failed + s.cutover_refused + s.crash_consistent;
    if attention > 0 || !usage_ok || s.verified + s.synced < s.total {
        ATTENTION
    } else if s.synced > 0 {
        SYNCED
    } else {
        OK
    }
}

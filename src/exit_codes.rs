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
/// that needs a look (a failure, a refused cutover, a crash-consistent copy,
/// warm-sync snapshots left on a cut-over volume).
pub fn of_run(s: &crate::engine::Summary, usage_ok: bool) -> i32 {
    let attention = s.failed + s.aborted + s.backup_failed + s.cutover_refused + s.crash_consistent + s.snapshots_left;
    if attention > 0 || !usage_ok || s.verified + s.synced < s.total {
        ATTENTION
    } else if s.synced > 0 {
        SYNCED
    } else {
        OK
    }
}

/// The dashboard's code on quitting: a finished run's as `migrate`'s (3 while
/// volumes wait for cutover; 2 when the usage archive failed or had not
/// finished), 2 for a run left unfinished, 0 when none ran.
pub fn of_dashboard(summary: Option<&crate::engine::Summary>, run_started: bool, usage_ok: bool) -> i32 {
    match summary {
        Some(s) => of_run(s, usage_ok),
        None if run_started => ATTENTION,
        None => OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(total: usize, verified: usize, synced: usize, backup_failed: usize) -> crate::engine::Summary {
        crate::engine::Summary {
            total,
            verified,
            backup_failed,
            failed: 0,
            aborted: 0,
            not_started: 0,
            synced,
            cutover_refused: 0,
            snapshots_left: 0,
            crash_consistent: 0,
            report_json: String::new(),
            report_md: String::new(),
        }
    }

    #[test]
    fn the_dashboard_exits_as_migrate_does() {
        assert_eq!(of_dashboard(Some(&summary(3, 3, 0, 0)), true, true), OK);
        assert_eq!(
            of_dashboard(Some(&summary(3, 1, 2, 0)), true, true),
            SYNCED,
            "synced, waiting for cutover"
        );
        assert_eq!(
            of_dashboard(Some(&summary(3, 2, 0, 1)), true, true),
            ATTENTION,
            "a tape copy failed"
        );
        assert_eq!(
            of_dashboard(Some(&summary(3, 2, 0, 0)), true, true),
            ATTENTION,
            "one not done"
        );
        let left = crate::engine::Summary {
            snapshots_left: 1,
            ..summary(3, 3, 0, 0)
        };
        assert_eq!(of_run(&left, true), ATTENTION, "sync snapshots left on a new volume");
        assert_eq!(of_dashboard(None, true, true), ATTENTION, "quit mid-run");
        assert_eq!(of_dashboard(None, false, true), OK, "nothing ran");
        assert_eq!(
            of_dashboard(Some(&summary(3, 3, 0, 0)), true, false),
            ATTENTION,
            "the usage archive failed or had not finished"
        );
    }
}

//! `stackmigrate migrate`: the headless client of the engine. Plans the
//! selection, archives the inventory, runs pre-flight, then drives the engine
//! and prints its events. Exit codes: `crate::exit_codes`.

use super::event_printer::EventPrinter;
pub use super::migrate_args::MigrateArgs;
use crate::config::{Config, ImportStrategy};
use crate::engine::{
    left_out_for_status, project_listing, CopyMode, EngineCommand, RunOptions, RunSetup, SyncPlan, VolumeRow,
    MIGRATABLE,
};
use crate::escaped::Escaped;
use crate::exit_codes;
use crate::in_use::InUse;
use crate::openstack::{Cinder, Keystone, Session, Volume, VolumeQuota};
use crate::signals::StopSignals;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What `--dry-run` says it would do with one volume.
fn plan_line(v: &Volume, row: Option<&VolumeRow>, mode: CopyMode) -> String {
    let attached = row.map_or("-".to_string(), VolumeRow::attachment_text);
    let how = match mode {
        CopyMode::Cold => "one pass, verified",
        CopyMode::Sync => "warm sync in rounds; migrated only after cutover (stop the server, then --cutover)",
        CopyMode::CrashConsistent => "one crash-consistent pass: later writes NOT copied",
    };
    format!(
        "would migrate {} {} ({} GiB, {}; attached: {}): {how}",
        v.id,
        Escaped(v.display_name()),
        v.size,
        v.status,
        Escaped(&attached)
    )
}

/// A fatal error: one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Fatal(pub String);

pub(super) fn fatal(e: impl std::fmt::Display) -> Fatal {
    Fatal(e.to_string())
}

pub fn select(all: &[Volume], spec: &str) -> Result<Vec<Volume>, Fatal> {
    if spec == "all" || spec == "migratable" {
        return Ok(all
            .iter()
            .filter(|v| MIGRATABLE.contains(&v.status.as_str()))
            .cloned()
            .collect());
    }
    let mut picked: Vec<Volume> = Vec::new();
    for id in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let v = resolve(all, id)?;
        if !MIGRATABLE.contains(&v.status.as_str()) {
            return Err(Fatal(format!(
                "volume {} ({}) is in status {:?}; only available or in-use volumes can be migrated",
                Escaped(v.display_name()),
                v.id,
                v.status
            )));
        }
        // `ID,ID` or an id and its prefix name one volume: plan and count it once.
        if !picked.iter().any(|p| p.id == v.id) {
            picked.push(v.clone());
        }
    }
    Ok(picked)
}

/// One `--volumes` entry: the exact id, else the one volume whose id starts
/// with it. A prefix that fits several is refused: picking whichever the
/// listing returned first would migrate a volume nobody chose.
fn resolve<'a>(all: &'a [Volume], id: &str) -> Result<&'a Volume, Fatal> {
    if let Some(v) = all.iter().find(|v| v.id == id) {
        return Ok(v);
    }
    let candidates: Vec<&Volume> = all.iter().filter(|v| v.id.starts_with(id)).collect();
    match candidates.as_slice() {
        [v] => Ok(v),
        [] => Err(Fatal(format!(
            "volume {id} is not in the project; run `stackmigrate volumes --project …` to list them"
        ))),
        many => Err(Fatal(format!(
            "volume id prefix {id} matches {} volumes: {}; give more of the id",
            many.len(),
            many.iter()
                .map(|v| format!("{} ({})", v.id, Escaped(v.display_name())))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub async fn run_migrate(cfg: &Config, args: &MigrateArgs) -> Result<i32, Fatal> {
    // `main` refuses these before anything is contacted (exit 64); the demo
    // and tests call this directly.
    if let Some(e) = args.usage_error(false) {
        return Err(Fatal(e));
    }
    let mut printer = EventPrinter::new(args.json);
    // Answered while the clouds are asked: a cutover's first step needs it.
    crate::storage::probe_in_background();
    // Pre-flight's `rbd ls` of both clusters, likewise.
    let clusters = crate::engine::ask_clusters_early(cfg);
    let old = Arc::new(Session::new("old", &cfg.old_cloud).map_err(fatal)?);
    let new = Session::new("new", &cfg.new_cloud).map_err(fatal)?;
    // The new cloud's token and quota are fetched while the old cloud is
    // asked: each first call with a fresh token waits for its validation.
    let keystone = Keystone::new(&old);
    let (project, _) = tokio::join!(keystone.find_project(&args.project), new.token());
    let project = project.map_err(fatal)?;
    let (listing, quota) = tokio::join!(project_listing(&old, &project), new_quota(&new));
    let listing = listing.map_err(fatal)?;
    let rows = &listing.rows;
    let all: Vec<Volume> = rows.iter().map(|r| r.volume.clone()).collect();
    let volumes = select(&all, &args.volumes)?;
    let left_out = match args.volumes.as_str() {
        "all" | "migratable" => left_out_for_status(&all),
        _ => Vec::new(),
    };
    for line in &left_out {
        eprintln!("warning: {line}");
        tracing::warn!("{line}");
    }
    // `migratable` chose to leave them: named above, not counted as attention.
    let left_out = if args.volumes == "all" { left_out } else { Vec::new() };
    // The rule the TUI follows too: warm sync for what a running server may write.
    let selected = rows.iter().filter(|r| volumes.iter().any(|v| v.id == r.volume.id));
    let modes = InUse::from_flag(&args.in_use).copy_modes(selected, args.sync);
    if volumes.is_empty() {
        return Err(Fatal(format!("project {} has no volume to migrate", project.name)));
    }
    let strategy = match args.strategy.as_deref() {
        Some("manage") => Some(ImportStrategy::Manage),
        Some(_) => Some(ImportStrategy::Replace),
        None => None,
    };
    let mut setup = RunSetup::new(cfg, old, new, project, strategy).map_err(fatal)?;
    if !args.dry_run {
        // Before the inventory and pre-flight: a second run is refused at once.
        setup.lock().map_err(fatal)?;
    }
    // Named volumes that cannot be started over go on as without the flag
    // (after a crash the same command resumes the copies it started afresh);
    // when none can, nothing starts.
    let (mut start_over, mut refusals) = (std::collections::HashSet::new(), Vec::new());
    for v in volumes.iter().filter(|_| args.start_over) {
        match setup.start_over_refusal(&v.id) {
            None => {
                start_over.insert(v.id.clone());
            }
            Some(why) => refusals.push(format!(
                "--start-over: volume {} ({}): {why}",
                v.id,
                Escaped(v.display_name())
            )),
        }
    }
    if args.start_over && start_over.is_empty() {
        return Err(Fatal(refusals.join("; ")));
    }
    for line in &refusals {
        eprintln!("warning: {line}; it is not started over, and goes on as without the flag (exit 2)");
        tracing::warn!("{line}; not started over");
    }
    setup.quota = quota;
    setup.early_clusters = std::sync::Mutex::new(clusters);
    for w in std::mem::take(&mut setup.warnings) {
        eprintln!("warning: {w}");
    }
    // Ctrl-C during pre-flight stops a slow used-bytes measure (its whole process group).
    let cancel = cancel_on_ctrl_c();
    let (progress, mut slow) = tokio::sync::mpsc::unbounded_channel();
    let show = !args.json;
    let shown = tokio::spawn(async move {
        while let Some(p) = slow.recv().await {
            if show {
                println!("{p}");
            }
        }
    });
    // The inventory archives the listing the plan was drawn from: no second one.
    let inventory = setup.inventory_from(&listing).map_err(fatal)?;
    let mut checks = setup.preflight(cfg, &volumes, &cancel, Some(progress)).await;
    checks.extend(crate::in_use::sync_without_export_file(
        cfg.export_dir.is_some(),
        &modes,
        &volumes,
        &setup.begun_by_journal(),
    ));
    let _ = shown.await;
    if cancel.is_cancelled() {
        return Err(Fatal("interrupted during pre-flight; nothing was started".into()));
    }
    if !args.json {
        let gib: u64 = volumes.iter().map(|v| v.size).sum();
        let p = &setup.project;
        println!(
            "project {} ({}): {} volume(s), {gib} GiB, strategy {:?}",
            Escaped(&p.name),
            p.id,
            volumes.len(),
            setup.strategy
        );
        println!("inventory archived to {}", inventory.display());
        checks.iter().for_each(|c| println!("{c}"));
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        return Err(Fatal(format!("pre-flight: {failed} problem(s); nothing was started")));
    }
    if args.dry_run {
        for v in &volumes {
            let row = rows.iter().find(|r| r.volume.id == v.id);
            let mode = modes.get(&v.id).copied().unwrap_or_default();
            println!("{}", plan_line(v, row, mode));
        }
        // As the run would: volumes `all` leaves out need attention.
        let codes = [exit_codes::OK, exit_codes::ATTENTION];
        return Ok(codes[usize::from(!left_out.is_empty())]);
    }
    if !args.yes {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return Err(Fatal("not a terminal: pass --yes to start the migration".into()));
        }
        print!("start migrating {} volume(s)? [y/N] ", volumes.len());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // Ctrl-C is caught from pre-flight on (cancel_on_ctrl_c), so here it must answer "no".
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            let _ = tx.send(answer);
        });
        let answer = tokio::select! {
            a = rx => a.unwrap_or_default(),
            _ = cancel.cancelled() => String::new(),
        };
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Err(Fatal("not confirmed; nothing was started".into()));
        }
    }
    // From here on a stop signal means a graceful shutdown, not death.
    let signals = match StopSignals::new() {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("warning: cannot watch for SIGINT/SIGTERM/SIGHUP ({e}); a signal will kill the run");
            None
        }
    };
    let opts = RunOptions {
        keep_exports: args.keep_exports,
        stay_alive: false,
        sync: SyncPlan {
            modes,
            rounds_per_run: Some(1),
            pause: std::time::Duration::ZERO,
            cutover_all: args.cutover.then_some(args.force_cutover),
        },
        full_verify: args.full_verify,
        start_over,
    };
    let mut run = setup.start(cfg, volumes, opts).await.map_err(fatal)?;
    let commands = run.commands.clone();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = signals.map(|mut signals| {
        let interrupted = interrupted.clone();
        tokio::spawn(async move {
            // SIGINT, SIGTERM, SIGHUP: stop children by group, keep what is
            // done; a later run resumes. A second signal leaves at once.
            let sig = signals.recv().await;
            interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!("{sig}: stopping; running stages end, finished work is kept; run again to resume ({sig} again exits at once)");
            tracing::warn!("{sig}: stopping the run");
            let _ = commands.send(EngineCommand::Shutdown).await;
            let sig = signals.recv().await;
            tracing::warn!("{sig} again: exiting without waiting for the stages to end");
            eprintln!("{sig} again: exiting now");
            // No destructors run past exit: the children's groups go first.
            crate::storage::kill_all_groups();
            std::process::exit(exit_codes::INTERRUPTED);
        })
    });
    while let Some(e) = run.events.recv().await {
        printer.print(&e);
    }
    let summary = run.engine.await.map_err(fatal)?.map_err(fatal)?;
    let usage = run.usage.await.map_err(fatal)?;
    if let Some(stop) = stop {
        stop.abort();
    }
    if let Err(e) = &usage {
        eprintln!("error: usage archive: {e}");
    }
    Ok(match exit_codes::of_run(&summary, usage.is_ok()) {
        _ if interrupted.load(std::sync::atomic::Ordering::SeqCst) => exit_codes::INTERRUPTED,
        // A volume left out for its status needs a look, as a failed one does,
        // and so does one named to start over that was not.
        exit_codes::OK | exit_codes::SYNCED if !left_out.is_empty() || !refusals.is_empty() => exit_codes::ATTENTION,
        code => code,
    })
}

/// The new project's volume quota, for pre-flight; `None` when it cannot be
/// read now (pre-flight then asks again and reports why).
async fn new_quota(new: &Session) -> Option<VolumeQuota> {
    let token = new.token().await.ok()?;
    let project = token.project_id()?;
    Cinder::new(new).quota_usage(project).await.ok()
}

/// A token that SIGINT, SIGTERM or SIGHUP cancels: the running rbd child is
/// stopped (TERM, grace, KILL to its group) instead of being left behind by a
/// killed parent.
pub(super) fn cancel_on_ctrl_c() -> CancellationToken {
    let token = CancellationToken::new();
    let on_signal = token.clone();
    match StopSignals::new() {
        Ok(mut signals) => {
            tokio::spawn(async move {
                signals.recv().await;
                on_signal.cancel();
            });
        }
        Err(e) => tracing::warn!("cannot watch for stop signals: {e}"),
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(id: &str, status: &str) -> Volume {
        serde_json::from_value(serde_json::json!({"id": id, "size": 1, "status": status})).expect("volume")
    }

    fn ids(v: &[Volume]) -> Vec<&str> {
        v.iter().map(|v| v.id.as_str()).collect()
    }

    #[test]
    fn select_counts_a_repeated_id_once() {
        let all = [vol("9a01", "available"), vol("7b02", "in-use")];
        let picked = select(&all, "9a01,7b02,9a01").expect("select");
        assert_eq!(ids(&picked), ["9a01", "7b02"]);
    }

    #[test]
    fn select_counts_an_id_and_its_prefix_once() {
        let all = [vol("9a01", "available"), vol("7b02", "in-use")];
        let picked = select(&all, "9a01, 9a").expect("select");
        assert_eq!(ids(&picked), ["9a01"]);
    }

    #[test]
    fn select_refuses_an_ambiguous_prefix_and_lists_the_candidates() {
        let all = [vol("9a01", "available"), vol("7b02", "in-use"), vol("9c03", "in-use")];
        let err = select(&all, "9").expect_err("ambiguous").to_string();
        assert!(err.contains("prefix 9 matches 2 volumes"), "{err}");
        assert!(
            err.contains("9a01") && err.contains("9c03") && !err.contains("7b02"),
            "{err}"
        );
    }

    #[test]
    fn select_takes_an_exact_id_even_when_it_prefixes_another() {
        let all = [vol("9a01x", "available"), vol("9a01", "in-use")];
        let picked = select(&all, "9a01").expect("select");
        assert_eq!(ids(&picked), ["9a01"]);
    }
}

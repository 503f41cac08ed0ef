//! The reducer's half for a run: starting it from the plan (warm sync for
//! what a running server writes to), the dashboard's keys (cutover
//! included), the engine's events, stopping (q, a signal, the dialog) and
//! the summary. Called only from [`update`](super::update).

use crate::engine::{EngineCommand, EngineEvent, Phase, SyncPlan};
use crate::in_use::InUse;
use crate::tui::app::{App, Screen};
use crate::tui::chrome::{ConfirmDialog, DialogAction};
use crate::tui::dashboard::Dashboard;
use crate::tui::screens::UsageStatus;
use crate::tui::{Action, Effect};

pub(super) fn quit(app: &mut App) {
    // Confirmed, and the engine not yet started: it may be exporting in a moment,
    // so q waits for the run to start and then asks, as it does during a run.
    let starting = app.plan.starting && !app.engine_live && app.dashboard.as_ref().is_some_and(|d| !d.finished);
    if app.screen == Screen::Dashboard && starting {
        app.flash("the run is starting: press q again once it has started to stop it safely");
        return;
    }
    let Some(d) = app
        .dashboard
        .as_mut()
        .filter(|_| app.screen == Screen::Dashboard && app.engine_live)
    else {
        app.quit = true;
        return;
    };
    if d.stopping {
        // A second q while stopping: leave now; dropping the engine stops its children.
        app.quit = true;
    } else if d.settled() {
        finish(app);
    } else {
        app.dialog = Some(ConfirmDialog::stop(app.removed_on_exit));
    }
}

/// A stop signal: the same graceful stop as `q` → Stop, then leave once the
/// engine has written its report; with nothing running, or at the second
/// signal, leave now.
pub(super) fn stop_signal(app: &mut App, name: &str) {
    app.signals = app.signals.saturating_add(1);
    tracing::warn!("{name}: stopping");
    let running = app.engine_live && app.dashboard.as_ref().is_some_and(|d| !d.finished);
    if !running || app.signals > 1 {
        app.quit = true;
        return;
    }
    app.dialog = None;
    if let Some(d) = app.dashboard.as_mut().filter(|d| !d.stopping) {
        d.stopping = true;
        app.effects.push(Effect::Engine(EngineCommand::Shutdown));
    }
    app.flash(format!(
        "{name}: stopping; running stages end, finished work is kept, then stackmigrate exits ({name} again exits now)"
    ));
}

fn finish(app: &mut App) {
    if let Some(d) = app.dashboard.as_mut() {
        d.stopping = true;
    }
    app.effects.push(Effect::Engine(EngineCommand::Shutdown));
    app.flash("finishing: writing the report…");
}

pub(super) fn choose(app: &mut App) {
    let Some(dialog) = app.dialog.take() else { return };
    if !dialog.ok_focused {
        return;
    }
    match dialog.action {
        DialogAction::Abort(id) => {
            // Not on a row that settled, or whose rounds stopped, while the
            // dialog was open: no event would come to clear the mark. A synced
            // volume's task ends between rounds, said by a `Synced` again.
            let mut between_rounds = false;
            if let Some(v) = app.dashboard.as_mut().and_then(|d| d.get_mut(&id)) {
                v.aborting = v.abortable();
                between_rounds = v.phase == crate::engine::Phase::Synced;
            }
            let who = app.dashboard.as_ref().map_or(id.clone(), |d| name(d, &id));
            app.flash(match between_rounds {
                true => format!("stopping {who}'s rounds"),
                false => format!("aborting {who}"),
            });
            app.effects.push(Effect::Engine(EngineCommand::Abort(id)));
        }
        DialogAction::Cutover { ids, force } => {
            // A volume that failed or was aborted while the dialog was open is
            // not cut over on a confirmation given for a synced one.
            let ready = |id: &String| {
                app.dashboard
                    .as_ref()
                    .and_then(|d| d.volumes.iter().find(|v| &v.id == id))
                    .is_some_and(|v| v.can_cut_over())
            };
            let ids: Vec<String> = ids.into_iter().filter(ready).collect();
            if ids.is_empty() {
                app.flash("no cutover: the volume is no longer synced (it failed or was aborted); retry it first");
                return;
            }
            let what = match ids.as_slice() {
                [id] => app.dashboard.as_ref().map_or(id.clone(), |d| name(d, id)),
                many => format!("{} volumes", many.len()),
            };
            app.flash(if force {
                format!("FORCED cutover asked for {what}")
            } else {
                format!("cutover asked for {what} (refused while a server still runs)")
            });
            for volume in ids {
                app.effects
                    .push(Effect::Engine(EngineCommand::Cutover { volume, force }));
            }
        }
        DialogAction::StartOver(id) => {
            // Not for a volume that was retried while the dialog was open.
            let Some(v) = app
                .dashboard
                .as_ref()
                .and_then(|d| d.volumes.iter().find(|v| v.id == id))
            else {
                return;
            };
            if !v.can_start_over() {
                app.flash(format!("{}: not started over, it is running again", v.name));
                return;
            }
            app.flash(format!("starting {} over", v.name));
            app.effects.push(Effect::Engine(EngineCommand::StartOver(id)));
        }
        DialogAction::Stop => {
            if let Some(d) = app.dashboard.as_mut() {
                d.stopping = true;
            }
            app.effects.push(Effect::Engine(EngineCommand::Shutdown));
            app.flash(match app.removed_on_exit {
                false => "stopping: running stages end, finished work is kept; run again to resume (q again leaves now)",
                true => "stopping: running stages end; this demo's directory goes on exit, --work-dir keeps one (q again leaves now)",
            });
        }
    }
}

fn name(d: &Dashboard, id: &str) -> String {
    d.volumes
        .iter()
        .find(|v| v.id == id)
        .map_or_else(|| id.to_string(), |v| v.name.clone())
}

pub(super) fn start(app: &mut App) {
    let Some(project) = app.plan.project.clone() else {
        return;
    };
    let volumes = app.plan.to_migrate();
    // The months the archive will ask for: its period with the end clipped to now.
    let now = chrono::Utc::now().naive_utc();
    let usage_months = app
        .cfg
        .usage
        .map(|u| match crate::usage::check_period(u.start, u.end, now) {
            Ok(p) => crate::usage::months(p.start, p.end).len(),
            Err(_) => crate::usage::months(u.start, u.end).len(),
        });
    app.plan.starting = true;
    let dir = app.cfg.work_dir.join(&project.id);
    app.summary.usage_dir = crate::usage::latest(&dir.join("usage")).display().to_string();
    app.summary.journal = dir.join("journal.jsonl").display().to_string();
    app.summary.usage = if usage_months.is_some() {
        UsageStatus::Running
    } else {
        UsageStatus::Off
    };
    let mut dashboard = Dashboard::new(&project.name, &volumes, app.cfg.tape.is_some(), usage_months, app.now);
    dashboard.no_export_file = app.cfg.export_dir.is_none();
    app.dashboard = Some(dashboard);
    // The rule `migrate` follows: what a running server may write to is
    // warm-synced, round after round, until the operator cuts it over.
    let sync = SyncPlan {
        modes: InUse::Sync.copy_modes(app.plan.volumes.iter().map(|e| &e.row), false),
        rounds_per_run: None,
        pause: app.sync_pause,
        cutover_all: None,
    };
    app.effects.push(Effect::Start { project, volumes, sync });
    app.screen = Screen::Dashboard;
}

pub(super) fn dashboard(app: &mut App, action: Action) {
    use crate::tui::keymap::When;
    let page = app.page();
    let live = |w| app.live(w);
    let (abort, retry, settle) = (live(When::Abortable), live(When::Retryable), live(When::Settled));
    let (cut_one, cut_all) = (live(When::CanCutOver), live(When::AnySynced));
    let start_over = live(When::CanStartOver);
    let Some(d) = app.dashboard.as_mut() else { return };
    let selected = d.selected().map(|v| (v.id.clone(), v.name.clone()));
    match action {
        Action::Up => d.move_by(-1),
        Action::Down => d.move_by(1),
        Action::Top => d.move_by(isize::MIN / 2),
        Action::Bottom => d.move_by(isize::MAX / 2),
        Action::PageUp => d.log.scroll(-page),
        Action::PageDown => d.log.scroll(page),
        Action::Autoscroll => d.log.toggle_autoscroll(),
        Action::Wrap => d.log.wrap = !d.log.wrap,
        Action::SwitchPane => d.show_usage = !d.show_usage,
        Action::Abort if abort => {
            if let Some((id, name)) = selected {
                let between_rounds = d.selected().is_some_and(|v| v.phase == crate::engine::Phase::Synced);
                app.dialog = Some(ConfirmDialog::abort(&id, &name, between_rounds));
            }
        }
        Action::Retry if retry => {
            if let Some((id, name)) = selected {
                // A synced volume's rounds go on once the engine takes it up (at
                // once, or when the abort between rounds has ended the task: no
                // `Synced` is said then): it runs again from here. A stage's abort
                // still under way stays (its `Aborted`, then the retry, follow).
                let syncs_on = match d.selected_mut() {
                    Some(v) if v.rounds_stopped || v.phase == Phase::Synced => {
                        (v.rounds_stopped, v.aborting) = (false, false);
                        true
                    }
                    _ => false,
                };
                app.effects.push(Effect::Engine(EngineCommand::Retry(id)));
                app.flash(match syncs_on {
                    true => format!("{name}: its rounds go on"),
                    false => format!("retrying {name}"),
                });
            }
        }
        Action::StartOver if start_over => {
            if let Some((id, name)) = selected {
                app.dialog = Some(ConfirmDialog::start_over(&id, &name));
            }
        }
        Action::Cutover if cut_one => {
            if let Some(v) = d.selected() {
                app.dialog = Some(ConfirmDialog::cutover(&[(v.id.clone(), v.name.clone())]));
            }
        }
        Action::ForceCutover if cut_one => {
            if let Some(v) = d.selected() {
                app.dialog = Some(ConfirmDialog::force_cutover(&v.id, &v.name, v.refusal.as_deref()));
            }
        }
        Action::CutoverAll if cut_all => {
            let all: Vec<(String, String)> = d
                .cut_over_candidates()
                .iter()
                .map(|v| (v.id.clone(), v.name.clone()))
                .collect();
            app.dialog = Some(ConfirmDialog::cutover(&all));
        }
        Action::Finish if settle => finish(app),
        // Said rather than ignored: the key is known, the selected volume cannot take it now.
        Action::Abort | Action::Cutover | Action::ForceCutover | Action::StartOver
            if app.engine_live && !d.stopping =>
        {
            if let Some((_, name)) = selected {
                let aborting = d.selected().is_some_and(|v| v.aborting);
                let stopped = d.selected().is_some_and(|v| v.rounds_stopped);
                let what = match action {
                    _ if aborting => "an abort is stopping it; wait until it has stopped",
                    Action::Abort if stopped => "its rounds are stopped; r syncs it on, c cuts it over",
                    Action::Abort => "nothing running to abort",
                    Action::StartOver => "only a failed or aborted copy, not verified, can start over",
                    _ => "only a synced volume can be cut over",
                };
                app.flash(format!("{name}: {what}"));
            }
        }
        _ => {}
    }
}

pub(super) fn summary(app: &mut App, action: Action) {
    let page = app.page();
    match action {
        Action::Up => app.summary.move_by(-1),
        Action::Down => app.summary.move_by(1),
        Action::PageUp => app.summary.move_by(-page),
        Action::PageDown => app.summary.move_by(page),
        Action::Top => app.summary.move_by(isize::MIN / 2),
        Action::Bottom => app.summary.move_by(isize::MAX / 2),
        _ => {}
    }
}

pub(super) fn engine_event(app: &mut App, e: EngineEvent) {
    let now = app.now;
    let Some(d) = app.dashboard.as_mut() else { return };
    d.apply(&e, now);
    // The engine's answer to a command it did not carry out at once.
    if let EngineEvent::Notice { message, .. } = &e {
        // A refused cutover names the server; the flash line keeps the
        // advice (the log pane has it all): no ids, the dashboard's keys.
        // The engine lists each server that may write, ", " between them.
        let servers = message
            .split_once("may write: ")
            .and_then(|(_, rest)| rest.split_once("; stop"))
            .map_or(1, |(list, _)| list.split(", ").count());
        let advice = match servers {
            0 | 1 => ": stop it or detach the volume, then c again (F forces it)",
            _ => ": stop them or detach the volume, then c again (F forces it)",
        };
        let message = without_ids(message)
            .replace("the source is still attached to a server that may write: ", "")
            .replace(
                "; stop the server (or detach the volume), then cut over (--force-cutover overrides, and the report says so)",
                advice,
            );
        app.flash(crate::escaped::escape(&message).into_owned());
        return;
    }
    let Some(d) = app.dashboard.as_mut() else { return };
    if let EngineEvent::Finished(s) = e {
        // Stopped by a signal: the report is written; nobody may be watching.
        app.quit |= app.signals > 0;
        app.effects.push(Effect::LoadReport(s.report_json.clone().into()));
        app.flash(format!("run finished; report in {}", s.report_md));
        app.summary.summary = Some(s);
        app.dialog = None;
        app.screen = Screen::Summary;
        return;
    }
    // Everything verified, taped and cleaned: nothing to retry, so finish.
    if app.engine_live && d.all_clean() && !d.stopping && !d.finished {
        finish(app);
    }
}

/// `text` without the parenthesised ids (` (3fa85f64-…)`) that follow names.
fn without_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(" (") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let id = after
            .get(..36)
            .filter(|id| id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && after[36..].starts_with(')'));
        match id {
            Some(_) => rest = &after[37..],
            None => {
                out.push_str(" (");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_go_and_other_brackets_stay() {
        let text = "server db-1 (0b5e0c2e-4d4e-4f5a-8e6b-3c2d1a0f9e8d) is ACTIVE (or so)";
        assert_eq!(super::without_ids(text), "server db-1 is ACTIVE (or so)");
    }
}

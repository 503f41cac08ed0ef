//! The reducer: `update(&mut App, Action)`. Keys and background results
//! change state here and only here; anything that needs the outside world
//! becomes an `Effect` for the runtime.

mod run;

use super::app::{App, Screen};
use super::chrome::FlashLevel;
use super::screens::{CheckKind, UsageStatus};
use super::{Action, Effect};
use crate::in_use::{sync_without_export_file, InUse};
use run::{choose, dashboard, engine_event, quit, start, stop_signal, summary};

pub fn update(app: &mut App, action: Action) {
    app.dirty = true;
    let (screen, flash) = (app.screen, app.flash.clone());
    reduce(app, action);
    // An error about the screen just left (nothing ticked, say) is not about
    // the next one; one this action raised stays.
    let stale = app.flash == flash && flash.is_some_and(|f| f.level == FlashLevel::Error);
    if app.screen != screen && stale {
        app.flash = None;
    }
}

fn reduce(app: &mut App, action: Action) {
    match action {
        Action::Tick => tick(app),
        Action::Resize(w, h) => app.size = (w, h),
        Action::Help => app.help = !app.help,
        Action::Quit => quit(app),
        Action::Signal(name) => stop_signal(app, name),
        Action::Note(line) => {
            let now = app.now;
            if let Some(d) = app.dashboard.as_mut() {
                d.now = now;
                d.log(None, line.clone(), crate::tui::dashboard::Level::Good);
            }
            app.flash(crate::escaped::escape(&line).into_owned());
        }
        Action::DialogSwitch => {
            if let Some(d) = app.dialog.as_mut() {
                d.ok_focused = !d.ok_focused;
            }
        }
        Action::DialogCancel => app.dialog = None,
        Action::DialogChoose => choose(app),
        Action::FilterStart | Action::FilterApply | Action::FilterClear | Action::Input(_) => filter(app, action),
        Action::CheckDone { index, line } => app.connect.set(index, line),
        Action::ProjectsLoaded(r) => app.projects.set(r),
        Action::ProjectStats { id, stats } => app.projects.set_stats(&id, stats),
        Action::VolumesLoaded { project_id, result } => {
            if app.project.as_ref().is_some_and(|p| p.id == project_id) {
                let resumed = app.volumes.set(result);
                if resumed > 0 {
                    app.flash(format!(
                        "an earlier run did not finish: its {resumed} volume(s) are ticked; enter resumes them"
                    ));
                }
            }
        }
        Action::TargetLoaded(t) => app.volumes.target = Some(t),
        Action::PreflightProgress(p) => app.plan.progress = Some(p),
        Action::PlanReady {
            mut lines,
            inventory,
            begun,
        } => {
            // The rule the run will follow (`update::run`): what a running server writes to is synced.
            let rows = || app.plan.volumes.iter().map(|e| &e.row);
            let modes = InUse::Sync.copy_modes(rows(), false);
            let keeps_file = app.cfg.export_dir.is_some();
            let volumes = rows().map(|r| &r.volume);
            lines.extend(sync_without_export_file(keeps_file, &modes, volumes, &begun));
            app.plan.lines = Some(lines);
            app.plan.inventory = Some(inventory);
        }
        Action::RunStarted => app.engine_live = true,
        Action::RunFailed(e) => {
            app.engine_live = false;
            app.plan.starting = false;
            app.dashboard = None;
            app.screen = Screen::Plan;
            app.flash_error(format!("the run did not start: {e}"));
        }
        Action::Engine(e) => engine_event(app, e),
        Action::EngineDone(r) => {
            app.engine_live = false;
            app.quit |= app.signals > 0;
            if let Err(e) = r {
                app.summary.engine_error = Some(e.clone());
                app.screen = Screen::Summary;
                app.flash_error(format!("the engine stopped: {e}"));
            }
        }
        Action::UsageDone(r) => {
            let status = match r {
                Ok(()) if app.cfg.usage.is_some() => UsageStatus::Done,
                Ok(()) => UsageStatus::Off,
                Err(e) => UsageStatus::Failed(e),
            };
            if let Some(d) = app.dashboard.as_mut() {
                d.usage.status = status.clone();
            }
            app.summary.usage = status;
        }
        Action::ReportLoaded(r) => app.summary.rows = Some(r),
        other => match app.screen {
            Screen::Connect => connect(app, other),
            Screen::Projects => projects(app, other),
            Screen::Volumes => volumes(app, other),
            Screen::Plan => plan(app, other),
            Screen::Dashboard => dashboard(app, other),
            Screen::Summary => summary(app, other),
        },
    }
}

fn tick(app: &mut App) {
    app.dirty = false;
    if app.flash.as_ref().is_some_and(|f| f.until <= app.now) {
        app.flash = None;
        app.dirty = true;
    }
    if app.engine_live && app.screen == Screen::Dashboard {
        if let Some(d) = app.dashboard.as_mut() {
            d.tick(app.now);
            app.dirty = true;
        }
    }
}

fn filter(app: &mut App, action: Action) {
    let (f, refilter): (_, fn(&mut App)) = match app.screen {
        Screen::Projects => (&mut app.projects.filter, |a| a.projects.refilter()),
        Screen::Volumes => (&mut app.volumes.filter, |a| a.volumes.refilter()),
        _ => return,
    };
    match action {
        Action::FilterStart => f.start(),
        Action::FilterApply => f.apply(),
        Action::FilterClear => f.clear(),
        Action::Input(key) => {
            if !f.key(key) {
                return;
            }
        }
        _ => return,
    }
    refilter(app);
}

fn connect(app: &mut App, action: Action) {
    match action {
        Action::Refresh => {
            app.connect.restart();
            app.effects.push(Effect::RunChecks);
        }
        Action::Enter => match app.connect.state(CheckKind::OldAuth) {
            Some(c) if c.ok => {
                app.screen = Screen::Projects;
                if app.projects.is_empty() && !app.projects.loading {
                    app.projects.start_loading();
                    app.effects.push(Effect::LoadProjects);
                }
            }
            None => app.flash("still checking the old cloud…"),
            Some(_) => app.flash_error("the old cloud did not authenticate: fix the ✘ line, then r checks again"),
        },
        _ => {}
    }
}

fn projects(app: &mut App, action: Action) {
    let page = app.page();
    let p = &mut app.projects;
    match action {
        Action::Up => p.move_by(-1),
        Action::Down => p.move_by(1),
        Action::PageUp => p.move_by(-page),
        Action::PageDown => p.move_by(page),
        Action::Top => p.move_by(isize::MIN / 2),
        Action::Bottom => p.move_by(isize::MAX / 2),
        Action::Refresh => {
            p.start_loading();
            app.effects.push(Effect::LoadProjects);
        }
        Action::Back if p.filter.is_active() => {
            p.filter.clear();
            p.refilter();
        }
        Action::Back => app.screen = Screen::Connect,
        Action::Enter => {
            let Some(entry) = p.selected().cloned() else { return };
            app.project = Some(entry.project.clone());
            app.volumes.open(entry.project.clone(), app.cfg.concurrency.exports);
            app.effects.push(Effect::LoadVolumes(entry.project));
            app.effects.push(Effect::LoadTarget);
            app.screen = Screen::Volumes;
        }
        _ => {}
    }
}

fn volumes(app: &mut App, action: Action) {
    let page = app.page();
    let v = &mut app.volumes;
    match action {
        Action::Up => v.move_by(-1),
        Action::Down => v.move_by(1),
        Action::PageUp => v.move_by(-page),
        Action::PageDown => v.move_by(page),
        Action::Top => v.move_by(isize::MIN / 2),
        Action::Bottom => v.move_by(isize::MAX / 2),
        Action::Toggle => {
            if let Err(e) = v.toggle() {
                app.flash_error(e);
            } else {
                v.move_by(1);
            }
        }
        Action::SelectAll => v.select_all(),
        Action::SelectNone => v.select_none(),
        Action::Refresh => {
            if let Some(p) = v.project.clone() {
                v.open(p.clone(), app.cfg.concurrency.exports);
                app.effects.push(Effect::LoadVolumes(p));
                app.effects.push(Effect::LoadTarget);
            }
        }
        Action::Back if v.filter.is_active() => {
            v.filter.clear();
            v.refilter();
        }
        Action::Back => app.screen = Screen::Projects,
        Action::Enter => {
            let chosen = v.chosen();
            let Some(project) = v.project.clone().filter(|_| !chosen.is_empty()) else {
                app.flash_error("tick at least one volume (space), then enter");
                return;
            };
            let volumes = chosen.iter().map(|e| e.volume().clone()).collect();
            app.plan.open(project.clone(), chosen, &app.cfg);
            app.effects.push(Effect::Prepare { project, volumes });
            app.screen = Screen::Plan;
        }
        _ => {}
    }
}

fn plan(app: &mut App, action: Action) {
    match action {
        Action::Up => app.plan.scroll = app.plan.scroll.saturating_sub(1),
        Action::Down => app.plan.scroll = app.plan.scroll.saturating_add(1),
        Action::Back if !app.plan.starting => {
            if app.plan.lines.is_none() {
                app.effects.push(Effect::CancelPrepare);
            }
            app.screen = Screen::Volumes;
        }
        Action::Confirm if !app.plan.starting => match app.plan.failures() {
            None => app.flash("pre-flight is still running"),
            Some(n) if n > 0 => app.flash_error(format!("{n} pre-flight check(s) failed; nothing was started")),
            Some(_) => start(app),
        },
        _ => {}
    }
}

//! Plan: what the run will do before it does it. The pre-flight lines, the
//! volumes to create with their type mapping, the strategy, and whether an
//! earlier run's journal makes this a resume. `y` starts; a failed
//! pre-flight line blocks it.

use super::VolumeEntry;
use crate::check_line::CheckLine;
use crate::config::{Config, ImportStrategy};
use crate::engine::{Phase, PreflightProgress};
use crate::escaped::escape;
use crate::openstack::{Project, Volume};
use crate::tui::format::fit;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use std::collections::BTreeMap;

/// What becomes of a volume a running server writes to: the export reads a
/// snapshot, so what the server writes after it is not in the copy.
const LIVE_WRITER_NOTE: &str = "warm sync, cut over once it is stopped";

#[derive(Debug, Default, Clone)]
pub struct PlanScreen {
    pub project: Option<Project>,
    pub volumes: Vec<VolumeEntry>,
    /// `None` while pre-flight runs.
    pub lines: Option<Vec<CheckLine>>,
    /// What a slow pre-flight is doing (measuring used bytes without fast-diff).
    pub progress: Option<PreflightProgress>,
    pub inventory: Option<Result<String, String>>,
    strategy: Option<ImportStrategy>,
    type_map: BTreeMap<String, String>,
    tape: Option<String>,
    concurrency: (usize, usize, usize),
    /// Set once `y` was pressed: the run is starting.
    pub starting: bool,
    pub scroll: u16,
}

impl PlanScreen {
    pub fn open(&mut self, project: Project, volumes: Vec<VolumeEntry>, cfg: &Config) {
        let c = &cfg.concurrency;
        *self = Self {
            project: Some(project),
            volumes,
            strategy: Some(cfg.import_strategy),
            type_map: cfg.volume_type_map.clone(),
            tape: cfg.tape.as_ref().map(|t| match &t.drives {
                Some(d) => format!("{} (drives: {})", t.command.join(" "), d.join(", ")),
                None => t.command.join(" "),
            }),
            concurrency: (c.exports, c.imports, cfg.tape_jobs()),
            ..Self::default()
        };
    }

    pub fn failures(&self) -> Option<usize> {
        self.lines.as_ref().map(|l| l.iter().filter(|l| !l.ok).count())
    }

    pub fn to_migrate(&self) -> Vec<Volume> {
        self.volumes.iter().map(|v| v.volume().clone()).collect()
    }

    fn new_type(&self, v: &Volume) -> String {
        match v.volume_type.as_deref() {
            None => "default".into(),
            Some(t) => match self.type_map.get(t) {
                Some(n) => format!("{t} → {n}"),
                None => t.to_string(),
            },
        }
    }

    fn intro(&self) -> Vec<Line<'static>> {
        let gib: u64 = self.volumes.iter().map(|v| v.volume().size).sum();
        let strategy = match self.strategy {
            Some(ImportStrategy::Manage) => "manage: import the image, then let Cinder adopt it (admin)",
            _ => "replace: create each volume, then replace its image with the export",
        };
        let (e, i, t) = self.concurrency;
        let mut lines = vec![
            Line::from(format!("{} volume(s), {gib} GiB", self.volumes.len())).bold(),
            Line::from(format!("strategy   {strategy}")),
            Line::from(format!(
                "tape copy  {}",
                self.tape.as_deref().map_or("off".to_string(), |c| format!("on: {c}"))
            )),
            Line::from(format!("at once    {e} exports, {i} imports, {t} tape copies")),
        ];
        let live = self.volumes.iter().filter(|v| v.row.live_writer().is_some()).count();
        if live > 0 {
            lines.push(
                Line::from(format!(
                    "in use     {live} volume(s) on servers that may still write (⚠ below)"
                ))
                .yellow(),
            );
        }
        let resumed = self.volumes.iter().filter(|v| v.unfinished()).count();
        let verified = self
            .volumes
            .iter()
            .filter(|v| matches!(v.previous, Some(Phase::Done | Phase::BackupFailed | Phase::Cleaned)))
            .count();
        if self.volumes.iter().any(|v| v.previous.is_some()) {
            lines.push(
                Line::from(format!(
                    "resume     an earlier run's journal exists: {resumed} volume(s) continue where they stopped, \
                     {verified} already verified (checksum re-checked only)"
                ))
                .yellow(),
            );
        }
        lines
    }

    fn preflight(&self) -> Vec<Line<'static>> {
        let mut lines = vec![Line::from(""), Line::from("Pre-flight").bold()];
        match &self.lines {
            None => {
                lines.push(Line::from("… running: quota, export space, clusters, tape").dim());
                if let Some(p) = &self.progress {
                    lines.push(Line::from(p.to_string()).yellow());
                }
            }
            Some(checks) => lines.extend(
                checks
                    .iter()
                    .map(|c| Line::from(vec![super::connect::mark(c), Span::from(c.text.clone())])),
            ),
        }
        match &self.inventory {
            Some(Ok(p)) => lines.push(Line::from(format!("✔ inventory archived to {p}"))),
            Some(Err(e)) => lines.push(Line::from(format!("✘ inventory: {e}")).red()),
            None => {}
        }
        lines
    }

    fn creates(&self, width: usize) -> Vec<Line<'static>> {
        let name_w = width.saturating_sub(40).clamp(12, 40);
        let mut lines = vec![
            Line::from(""),
            Line::from("Will create in the new cloud").bold(),
            Line::from(format!(
                "  {:<name_w$} {:>5}  {:<22} NOTE",
                "NAME", "GiB", "TYPE (old → new)"
            ))
            .dim(),
        ];
        for v in &self.volumes {
            let vol = v.volume();
            let note = match v.previous {
                Some(Phase::Cleaned | Phase::Done | Phase::BackupFailed) => "verified earlier: re-check",
                Some(Phase::Exported | Phase::Transferring) => "resume: import",
                Some(_) => "resume",
                None if vol.bootable => "bootable",
                None => "",
            };
            lines.push(Line::from(format!(
                "  {:<name_w$} {:>5}  {:<22} {note}",
                fit(&crate::escaped::escape(vol.display_name()), name_w),
                vol.size,
                fit(&self.new_type(vol), 22)
            )));
            lines.extend(attachment(v));
        }
        lines
    }
}

/// Under an attached volume: who may still write to it, or that its servers
/// are stopped. Cloud text is escaped.
fn attachment(v: &VolumeEntry) -> Option<Line<'static>> {
    if let Some(w) = v.row.live_writer() {
        let others = v.row.servers.iter().filter(|s| s.id != w.id).count();
        let more = if others > 0 {
            format!(" +{others} more")
        } else {
            String::new()
        };
        return Some(
            Line::from(format!(
                "    ⚠ in use by {}{more}: {LIVE_WRITER_NOTE}",
                escape(&w.describe())
            ))
            .yellow(),
        );
    }
    (!v.row.servers.is_empty())
        .then(|| Line::from(format!("    attached to {}: stopped", escape(&v.row.attachment_text()))).dim())
}

impl Widget for &PlanScreen {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [body, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let project = crate::escaped::escape(self.project.as_ref().map_or("?", |p| p.name.as_str()));
        let mut lines = self.intro();
        lines.extend(self.preflight());
        lines.extend(self.creates(body.width.saturating_sub(2) as usize));
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" Plan: {project} → new cloud ")))
            .wrap(Wrap { trim: false })
            .scroll((self.scroll, 0))
            .render(body, buf);
        let line = match (self.starting, self.failures()) {
            (true, _) => Line::from("starting…").bold(),
            (false, None) => Line::from("waiting for pre-flight…").dim(),
            (false, Some(0)) => Line::from("y starts the migration · esc goes back · nothing changes until y").bold(),
            (false, Some(n)) => Line::styled(
                format!("✘ {n} pre-flight check(s) failed: fix them, then esc and enter to check again"),
                Style::new().red().bold(),
            ),
        };
        Paragraph::new(line).render(status, buf);
    }
}

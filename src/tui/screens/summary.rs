//! Summary: how the run ended. Totals from the engine's `Finished`, one row
//! per volume from `report.json` (old → new id, state, checksum, durations,
//! errors), the selected row in full, and where the report, usage archive,
//! journal and log are.

use crate::engine::{Phase, Summary, Track};
use crate::escaped::escape;
use crate::tui::format::{duration, fit, fit_tail, short_id};
use crate::tui::scroll::{step, Scroll};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One volume's row of `report.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportRow {
    pub old_id: String,
    pub new_id: Option<String>,
    /// A new volume made for the copy, not verified (a stopped or failed run).
    #[serde(default)]
    pub new_id_unverified: Option<String>,
    pub name: String,
    pub size_gib: u64,
    pub used_bytes: Option<u64>,
    pub checksum: Option<String>,
    #[serde(default)]
    pub checksum_algorithm: String,
    #[serde(default)]
    pub seconds: BTreeMap<String, f64>,
    pub throughput_mib_s: Option<f64>,
    pub tape: Track,
    pub state: Phase,
    #[serde(default)]
    pub attempts: u32,
    pub error: Option<String>,
    /// Which moment of the source the copy holds (warm sync, crash-consistent).
    #[serde(default)]
    pub point_in_time: Option<String>,
    /// Copied from a snapshot while a server could write (`--in-use=snapshot`).
    #[serde(default)]
    pub crash_consistent: bool,
    /// Cut over while a server could still write (`F`, `--force-cutover`).
    #[serde(default)]
    pub forced_cutover: bool,
}

/// A verified copy that is not the source's last state says so in its row:
/// the headline's count alone is easy to miss.
fn row_label(r: &ReportRow) -> &'static str {
    match r.state {
        Phase::Cleaned | Phase::Done if r.forced_cutover => "FORCED",
        Phase::Cleaned | Phase::Done if r.crash_consistent => "snapshot",
        p => state_label(p),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UsageStatus {
    #[default]
    Off,
    Running,
    Done,
    Failed(String),
}

#[derive(Debug, Default, Clone)]
pub struct SummaryScreen {
    pub summary: Option<Summary>,
    pub engine_error: Option<String>,
    /// `None` until `report.json` is read.
    pub rows: Option<Result<Vec<ReportRow>, String>>,
    pub usage: UsageStatus,
    pub usage_dir: String,
    pub journal: String,
    pub log_file: String,
    /// The run's directory goes on exit (the demo without `--work-dir`).
    pub removed_on_exit: bool,
    cursor: usize,
    scroll: Scroll,
}

fn state_label(p: Phase) -> &'static str {
    match p {
        Phase::Cleaned | Phase::Done => "verified",
        Phase::BackupFailed => "no tape",
        Phase::Failed => "FAILED",
        Phase::Aborted => "aborted",
        Phase::Queued => "not started",
        _ => "stopped",
    }
}

impl SummaryScreen {
    pub fn new(log_file: &std::path::Path) -> Self {
        Self {
            log_file: log_file.display().to_string(),
            ..Self::default()
        }
    }

    pub fn move_by(&mut self, delta: isize) {
        let len = self.rows.as_ref().and_then(|r| r.as_ref().ok()).map_or(0, Vec::len);
        self.cursor = step(self.cursor, len, delta);
    }

    fn rows(&self) -> &[ReportRow] {
        self.rows
            .as_ref()
            .and_then(|r| r.as_ref().ok())
            .map_or(&[], Vec::as_slice)
    }

    fn render_totals(&self, area: Rect, buf: &mut Buffer) {
        use crate::exit_codes::{of_run, OK};
        // Green only when the dashboard exits 0: what `migrate` would say of this run.
        let usage_ok = matches!(self.usage, UsageStatus::Done | UsageStatus::Off);
        let ok = self.summary.as_ref().is_some_and(|s| of_run(s, usage_ok) == OK);
        let line = match (&self.summary, &self.engine_error) {
            (_, Some(e)) => Line::from(format!("✘ the engine stopped: {e}")).red().bold(),
            (None, None) => Line::from("waiting for the engine to finish…"),
            (Some(s), None) => {
                let head = format!(
                    "{} {} of {} verified in the new cloud",
                    if ok { "✔" } else { "✘" },
                    s.verified,
                    s.total
                );
                let counts = [
                    (s.backup_failed, "with a tape copy owed", true),
                    (s.failed, "failed", true),
                    (s.aborted, "aborted", true),
                    (s.not_started, "not started", false),
                    (s.crash_consistent, "crash-consistent only", false),
                    (s.snapshots_left, "with sync snapshots left", false),
                ];
                // Every count that says something; the zeros too where they fit.
                let said = |zeros: bool| {
                    counts
                        .iter()
                        .filter(|(n, _, always)| *n > 0 || (zeros && *always))
                        .fold(head.clone(), |mut text, (n, what, _)| {
                            text.push_str(&format!(" · {n} {what}"));
                            text
                        })
                };
                let full = said(true);
                let text = match full.chars().count() > area.width as usize {
                    true => fit(&said(false), area.width as usize),
                    false => full,
                };
                if ok {
                    Line::from(text).green().bold()
                } else {
                    Line::from(text).red().bold()
                }
            }
        };
        let next = match &self.summary {
            Some(s) if s.verified < s.total || s.backup_failed > 0 => match self.removed_on_exit {
                false => "run stackmigrate again for this project: it resumes the unfinished volumes",
                true => crate::tui::app::NOTHING_TO_RESUME,
            },
            Some(_) if !ok && self.removed_on_exit => crate::tui::app::NOTHING_TO_RESUME,
            Some(_) if !ok => "needs a look before the old cloud goes: see report.md (and the usage line below)",
            _ => "q quits",
        };
        Paragraph::new(vec![line, Line::from(next).dim()]).render(area, buf);
    }

    fn render_table(&self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered().title(" Volumes: old → new ");
        let height = block.inner(area).height.saturating_sub(1) as usize;
        let rows = self.rows();
        let window = self.scroll.window(self.cursor, rows.len(), height);
        let body: Vec<Row> = rows[window.clone()]
            .iter()
            .map(|r| {
                let total: f64 = r.seconds.values().sum();
                let row = Row::new(vec![
                    crate::escaped::escape(&r.name).into_owned(),
                    format!(
                        "{} → {}",
                        short_id(&r.old_id),
                        r.new_id.as_deref().map_or("-", short_id)
                    ),
                    row_label(r).to_string(),
                    r.checksum.as_deref().map_or("-".to_string(), |c| fit(c, 12)),
                    if total > 0.0 { duration(total) } else { "-".into() },
                    r.throughput_mib_s.map_or("-".into(), |t| format!("{t:.0}")),
                ]);
                match r.state {
                    Phase::Failed | Phase::Aborted | Phase::BackupFailed => row.style(Style::new().red()),
                    Phase::Done | Phase::Cleaned if r.forced_cutover || r.crash_consistent => {
                        row.style(Style::new().yellow())
                    }
                    _ => row,
                }
            })
            .collect();
        let widths = [
            Constraint::Fill(1),
            Constraint::Length(19),
            Constraint::Length(11),
            Constraint::Length(12),
            Constraint::Length(6),
            Constraint::Length(5),
        ];
        let header = Row::new(["NAME", "OLD → NEW", "STATE", "CHECKSUM", "TIME", "MiB/s"]).style(Style::new().bold());
        let mut table = Table::new(body, widths)
            .header(header)
            .row_highlight_style(Style::new().reversed())
            .highlight_symbol("›");
        if let Some(Err(e)) = &self.rows {
            table = table.block(block.title_bottom(format!(" report.json: {e} ")));
        } else {
            table = table.block(block);
        }
        let selected = (!rows.is_empty()).then(|| self.cursor - window.start);
        StatefulWidget::render(table, area, buf, &mut TableState::default().with_selected(selected));
    }

    /// The selected row in full; the error comes first after the ids.
    fn detail(&self, wide: bool) -> Vec<Line<'static>> {
        match self.rows().get(self.cursor) {
            None => vec![Line::from("reading report.json…").dim()],
            Some(r) => {
                let secs = r
                    .seconds
                    .iter()
                    .map(|(k, v)| format!("{k} {}", duration(*v)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let checksum = r.checksum.as_deref().unwrap_or("-");
                let checksum = if wide { checksum.to_string() } else { fit(checksum, 20) };
                let tape = match r.tape {
                    Track::Succeeded => "taped",
                    Track::Failed => "tape FAILED",
                    Track::Disabled => "tape off",
                    _ => "not taped",
                };
                let new = match (&r.new_id, &r.new_id_unverified) {
                    (Some(id), _) => id.clone(),
                    (None, Some(id)) => format!("{id} (created, not verified)"),
                    (None, None) => "(no new volume)".into(),
                };
                let mut lines = vec![Line::from(format!("{} → {new}", r.old_id))];
                if let Some(e) = &r.error {
                    lines.push(Line::from(format!("error: {e}")).red());
                }
                if let Some(p) = &r.point_in_time {
                    let line = Line::from(format!("copy of the source at {}", escape(p)));
                    // Anything but a copy of a stopped or detached source needs a look.
                    let stale = p.contains("crash-consistent") || p.contains("FORCED") || p.contains("not migrated");
                    lines.push(if stale { line.yellow() } else { line });
                }
                lines.push(Line::from(format!(
                    "{} {checksum} · {} GiB · {tape} · attempts {}",
                    r.checksum_algorithm, r.size_gib, r.attempts
                )));
                lines.push(Line::from(if secs.is_empty() {
                    "no stage ran".to_string()
                } else {
                    secs
                }));
                lines
            }
        }
    }

    fn render_detail(&self, lines: Vec<Line<'static>>, area: Rect, buf: &mut Buffer) {
        Paragraph::new(lines)
            .block(Block::bordered().title(" Selected "))
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }

    fn render_paths(&self, area: Rect, buf: &mut Buffer) {
        let (json, md) = self
            .summary
            .as_ref()
            .map_or(("-", "-"), |s| (s.report_json.as_str(), s.report_md.as_str()));
        let json = format!(" (and {})", json.rsplit('/').next().unwrap_or(json));
        // A path too long for the line keeps its end: the file's name.
        let room = |tail: &str| (area.width as usize).saturating_sub(9 + tail.chars().count());
        let usage = match &self.usage {
            UsageStatus::Off => fit("not archived (no usage period in the config)", room("")),
            UsageStatus::Running => {
                let still = " (still archiving)";
                format!("{}{still}", fit_tail(&self.usage_dir, room(still)))
            }
            UsageStatus::Done => fit_tail(&self.usage_dir, room("")),
            UsageStatus::Failed(e) => fit(&format!("FAILED: {e}"), room("")),
        };
        let lines = vec![
            Line::from(format!("report   {}{json}", fit_tail(md, room(&json)))),
            Line::from(format!("usage    {usage}")),
            Line::from(format!("journal  {}", fit_tail(&self.journal, room("")))),
            Line::from(format!("log      {}", fit_tail(&self.log_file, room("")))),
        ];
        Paragraph::new(lines).render(area, buf);
    }
}

impl Widget for &SummaryScreen {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines = self.detail(area.width >= 110);
        let inner_w = area.width.saturating_sub(2).max(1) as usize;
        let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(inner_w)).sum();
        let [totals, table, detail, paths] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Min(5),
            Constraint::Length(rows.min(7) as u16 + 2),
            Constraint::Length(4),
        ])
        .areas(area);
        self.render_totals(totals, buf);
        self.render_table(table, buf);
        self.render_detail(lines, detail, buf);
        self.render_paths(paths, buf);
    }
}

//! The volumes table, its footer (selection against quota and free space,
//! red when the quota is short, yellow when the export dir may be) and the filter line. Only the rows in view are built.

use super::VolumesScreen;
use crate::tui::format::{bytes, fit, short_id};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget};

/// The USED column's index.
const USED: usize = 4;

impl VolumesScreen {
    fn render_table(&self, area: Rect, buf: &mut Buffer) {
        let project = crate::escaped::escape(self.project.as_ref().map_or("?", |p| p.name.as_str()));
        let title = match (&self.error, self.loading) {
            (Some(e), _) => format!(" Volumes of {project}: {e} (r reloads) "),
            (None, true) => format!(" Volumes of {project}: loading… "),
            (None, false) => format!(" Volumes of {project} ({} of {}) ", self.visible.len(), self.rows.len()),
        };
        let block = Block::bordered().title(title);
        let height = block.inner(area).height.saturating_sub(1) as usize;
        let window = self.scroll.window(self.cursor, self.visible.len(), height);
        // Narrow, USED gives way so the attachments keep their servers' status.
        let wide = area.width >= 110;
        let narrow = |mut cells: Vec<Cell<'static>>| {
            if !wide {
                cells.remove(USED);
            }
            cells
        };
        // TYPE as wide as the longest type listed, up to a cap; a longer
        // one is cut with `…`, never silently (STATUS likewise).
        let type_of = |i: &usize| self.rows[*i].volume().volume_type.as_deref().unwrap_or("-");
        let longest = self.visible.iter().map(|i| type_of(i).chars().count()).max();
        let type_w = longest.unwrap_or(0).clamp(4, if wide { 20 } else { 12 });
        let rows: Vec<Row> = self.visible[window.clone()]
            .iter()
            .map(|i| {
                let r = &self.rows[*i];
                let v = r.volume();
                let tick = match (self.selected.contains(&v.id), r.migratable()) {
                    (true, _) => "[x]",
                    (false, true) => "[ ]",
                    (false, false) => " - ",
                };
                let mut name = crate::escaped::escape(v.display_name()).into_owned();
                if r.unfinished() {
                    name.insert_str(0, "⟳ ");
                }
                let status = Cell::from(fit(&v.status, 9));
                let row = Row::new(narrow(vec![
                    Cell::from(tick),
                    Cell::from(name),
                    Cell::from(short_id(&v.id).to_string()),
                    Cell::from(Line::from(v.size.to_string()).right_aligned()),
                    Cell::from(Line::from(r.used.map_or("-".into(), bytes)).right_aligned()),
                    Cell::from(fit(type_of(i), type_w)),
                    status,
                    Cell::from(crate::escaped::escape(&r.row.attachment_text()).into_owned()),
                    Cell::from(if v.bootable { "yes" } else { "no" }),
                ]));
                if r.migratable() {
                    row
                } else {
                    row.style(Style::new().dim())
                }
            })
            .collect();
        let mut widths = vec![
            Constraint::Length(3),
            Constraint::Fill(if wide { 2 } else { 1 }),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(9),
            Constraint::Length(type_w as u16),
            Constraint::Length(9),
            Constraint::Fill(1),
            Constraint::Length(4),
        ];
        if !wide {
            widths.remove(USED);
        }
        let right = |s: &'static str| Cell::from(Line::from(s).right_aligned());
        let header = Row::new(narrow(vec![
            Cell::from(""),
            Cell::from("NAME"),
            Cell::from("ID"),
            right("GiB"),
            right("USED"),
            Cell::from("TYPE"),
            Cell::from("STATUS"),
            Cell::from("ATTACHED TO"),
            Cell::from("BOOT"),
        ]))
        .style(Style::new().bold());
        let table = Table::new(rows, widths)
            .header(header)
            .block(block)
            .column_spacing(1)
            .row_highlight_style(Style::new().reversed())
            .highlight_symbol("›");
        let selected = (!self.visible.is_empty()).then(|| self.cursor - window.start);
        StatefulWidget::render(table, area, buf, &mut TableState::default().with_selected(selected));
    }

    fn render_footer(&self, area: Rect, buf: &mut Buffer) {
        let short = Style::new().red().bold();
        let mut spans = vec![Span::from(format!("{} ticked, {} GiB", self.selected.len(), self.selected_gib())).bold()];
        let (quota, space) = match &self.target {
            None => ("new quota …".to_string(), "export dir …".to_string()),
            Some(t) => {
                let quota = match &t.quota {
                    Ok(q) => {
                        let show = |f: Option<i64>| f.map_or("∞".to_string(), |f| f.to_string());
                        format!(
                            "new quota {} vols/{} GiB",
                            show(q.volumes.free()),
                            show(q.gigabytes.free())
                        )
                    }
                    Err(_) => "new quota unknown".to_string(),
                };
                let space = match &t.export_free {
                    Ok(free) => format!("export dir {} free", bytes(*free)).replace(".0 ", " "),
                    Err(e) if e.starts_with("no export file") => "no export file (streamed)".to_string(),
                    Err(_) => "export dir unknown".to_string(),
                };
                (quota, space)
            }
        };
        let style = |bad: bool| if bad { short } else { Style::new() };
        spans.push(Span::from(" │ "));
        spans.push(Span::styled(quota, style(self.quota_short())));
        if self.quota_short() {
            spans.push(Span::styled(" ✘ short", short));
        }
        spans.push(Span::from(" │ "));
        // Weighed against provisioned sizes before the data is measured (pre-flight
        // does that, on the plan): a warning in yellow, not a verdict.
        let maybe = if self.space_short() {
            Style::new().yellow()
        } else {
            Style::new()
        };
        spans.push(Span::styled(space, maybe));
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}

impl Widget for &VolumesScreen {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [table, footer, filter] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(1), Constraint::Length(1)]).areas(area);
        self.render_table(table, buf);
        self.render_footer(footer, buf);
        let hint = self
            .filter
            .label()
            .unwrap_or_else(|| "[x] ticked  - cannot be migrated (status)  ⟳ unfinished earlier run: resumes".into());
        Paragraph::new(hint).dim().render(filter, buf);
    }
}

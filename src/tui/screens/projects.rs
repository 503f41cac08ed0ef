//! Projects: the old cloud's projects with their volume count and size
//! (filled in per project as the counts return), filterable; `enter` opens one.
//! The cursor starts on the project the old cloud's credentials are scoped to.

use crate::openstack::Project;
use crate::tui::filter::Filter;
use crate::tui::scroll::{step, Scroll};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget};

/// A project as loaded, with whether an earlier run left a journal.
#[derive(Debug, Clone)]
pub struct ProjectEntry {
    pub project: Project,
    pub resumable: bool,
    /// The project the old cloud's token is scoped to (the credentials'
    /// `project_name` or `project_id`).
    pub scoped: bool,
}

#[derive(Debug, Clone)]
struct Item {
    entry: ProjectEntry,
    /// `(volumes, GiB)` once counted.
    stats: Option<Result<(usize, u64), String>>,
}

#[derive(Debug, Default, Clone)]
pub struct ProjectsScreen {
    items: Vec<Item>,
    pub loading: bool,
    pub error: Option<String>,
    pub filter: Filter,
    /// Indices into `items` that pass the filter.
    visible: Vec<usize>,
    cursor: usize,
    scroll: Scroll,
}

impl ProjectsScreen {
    pub fn start_loading(&mut self) {
        self.loading = true;
        self.error = None;
    }

    /// The first listing puts the cursor on the scoped project; a later one
    /// (a reload) leaves it where the operator moved it.
    pub fn set(&mut self, result: Result<Vec<ProjectEntry>, String>) {
        self.loading = false;
        let first = self.items.is_empty();
        match result {
            Ok(entries) => {
                self.items = entries.into_iter().map(|entry| Item { entry, stats: None }).collect();
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        self.refilter();
        if first {
            let scoped = self.visible.iter().position(|i| self.items[*i].entry.scoped);
            self.cursor = scoped.unwrap_or(0);
        }
    }

    pub fn set_stats(&mut self, id: &str, stats: Result<(usize, u64), String>) {
        if let Some(item) = self.items.iter_mut().find(|i| i.entry.project.id == id) {
            item.stats = Some(stats);
        }
    }

    pub fn refilter(&mut self) {
        let f = &self.filter;
        self.visible = (0..self.items.len())
            .filter(|i| {
                let p = &self.items[*i].entry.project;
                f.matches([p.name.as_str(), p.id.as_str(), p.domain_id.as_deref().unwrap_or("")])
            })
            .collect();
        self.cursor = self.cursor.min(self.visible.len().saturating_sub(1));
    }

    pub fn move_by(&mut self, delta: isize) {
        self.cursor = step(self.cursor, self.visible.len(), delta);
    }

    pub fn selected(&self) -> Option<&ProjectEntry> {
        self.visible.get(self.cursor).map(|i| &self.items[*i].entry)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Widget for &ProjectsScreen {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [table_area, filter_area] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
        let wide = area.width >= 110;
        let title = match (&self.error, self.loading) {
            (Some(e), _) => format!(" Projects: {e} (r reloads) "),
            (None, true) => " Projects: loading… ".to_string(),
            (None, false) => format!(" Projects ({} of {}) ", self.visible.len(), self.items.len()),
        };
        let block = Block::bordered().title(title);
        let inner_h = block.inner(table_area).height.saturating_sub(1) as usize;
        let window = self.scroll.window(self.cursor, self.visible.len(), inner_h);
        let rows: Vec<Row> = self.visible[window.clone()]
            .iter()
            .map(|i| {
                let it = &self.items[*i];
                let p = &it.entry.project;
                let (count, gib) = match &it.stats {
                    None => ("…".to_string(), "…".to_string()),
                    Some(Ok((n, g))) => (n.to_string(), g.to_string()),
                    Some(Err(_)) => ("?".to_string(), "?".to_string()),
                };
                let id = if wide {
                    p.id.clone()
                } else {
                    crate::tui::format::short_id(&p.id).to_string()
                };
                Row::new(vec![
                    Cell::from(crate::escaped::escape(&p.name).into_owned()),
                    Cell::from(id),
                    Cell::from(p.domain_id.clone().unwrap_or_else(|| "-".into())),
                    Cell::from(if p.enabled { "yes" } else { "no" }),
                    Cell::from(Line::from(count).right_aligned()),
                    Cell::from(Line::from(gib).right_aligned()),
                    Cell::from(if it.entry.resumable { "⟳ resumable" } else { "" }),
                ])
            })
            .collect();
        let widths = [
            Constraint::Fill(1),
            Constraint::Length(if wide { 32 } else { 8 }),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(11),
        ];
        let header = Row::new(["NAME", "ID", "DOMAIN", "ENABLED", "VOLUMES", "GiB", ""]).style(Style::new().bold());
        let table = Table::new(rows, widths)
            .header(header)
            .block(block)
            .row_highlight_style(Style::new().reversed())
            .highlight_symbol("› ");
        let mut state =
            TableState::default().with_selected((!self.visible.is_empty()).then(|| self.cursor - window.start));
        StatefulWidget::render(table, table_area, buf, &mut state);
        let hint = self
            .filter
            .label()
            .unwrap_or_else(|| "⟳ marks a project an earlier run did not finish: it resumes".into());
        Paragraph::new(hint).dim().render(filter_area, buf);
    }
}

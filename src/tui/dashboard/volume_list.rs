//! The dashboard's volume list: every volume with its symbol and state, one
//! selected for `x` (abort), `r` (retry) and `c` (cutover); the selected
//! one's error shows under the list.

use super::Dashboard;
use crate::engine::Phase;
use crate::tui::format::fit;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::widgets::{Block, Row, StatefulWidget, Table, TableState};

impl Dashboard {
    pub(super) fn render_volume_list(&self, area: Rect, buf: &mut Buffer) {
        let c = self.counts();
        let mut title = format!(" Volumes · {}/{} ✔", c.verified, c.total);
        if c.failed > 0 {
            title.push_str(&format!(" · {} ✘", c.failed));
        }
        if c.aborted > 0 {
            title.push_str(&format!(" · {} ⊘", c.aborted));
        }
        if c.synced > 0 {
            title.push_str(&format!(" · {} ≈", c.synced));
        }
        title.push(' ');
        let mut block = Block::bordered().title(title);
        if let Some((stage, e)) = self.selected().and_then(|v| v.error.as_ref()) {
            let width = area.width.saturating_sub(4) as usize;
            block = block.title_bottom(fit(&format!(" {stage}: {e} "), width).red());
        }
        let height = block.inner(area).height as usize;
        let window = self.scroll.window(self.cursor, self.volumes.len(), height);
        let rows: Vec<Row> = self.volumes[window.clone()]
            .iter()
            .map(|v| {
                let style = match v.phase {
                    Phase::Failed | Phase::Aborted | Phase::BackupFailed => Style::new().red(),
                    Phase::Done | Phase::Cleaned => Style::new().green(),
                    _ => Style::new(),
                };
                Row::new([v.symbol().to_string(), v.name.clone(), v.label()]).style(style)
            })
            .collect();
        // Room for "synced (round 12)" when a volume is warm-synced.
        let label_w = self.volumes[window.clone()]
            .iter()
            .map(|v| v.label().chars().count())
            .max()
            .unwrap_or(0)
            .clamp(13, 17) as u16;
        let widths = [Constraint::Length(1), Constraint::Fill(1), Constraint::Length(label_w)];
        let table = Table::new(rows, widths)
            .block(block)
            .row_highlight_style(Style::new().reversed())
            .highlight_symbol("›");
        let selected = (!self.volumes.is_empty()).then(|| self.cursor - window.start);
        StatefulWidget::render(table, area, buf, &mut TableState::default().with_selected(selected));
    }
}

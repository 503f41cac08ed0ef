//! The `?` screen: every binding that applies here, from the keymap. When
//! the sections do not fit one column, they flow into two.

use crate::tui::keymap::{bindings, Scope};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

fn sections(scopes: &[Scope]) -> Vec<Vec<Line<'static>>> {
    scopes
        .iter()
        .filter_map(|scope| {
            let rows: Vec<Line> = bindings()
                .filter(|b| b.scope == *scope)
                .map(|b| Line::from(format!("  {:<10} {}", b.keys_label(), b.help)))
                .collect();
            if rows.is_empty() {
                return None;
            }
            let mut section = vec![Line::from(scope.title()).bold()];
            section.extend(rows);
            Some(section)
        })
        .collect()
}

pub fn render_help(scopes: &[Scope], area: Rect, buf: &mut Buffer) {
    let sections = sections(scopes);
    let one_column: usize = sections.iter().map(|s| s.len() + 1).sum::<usize>() - 1;
    let columns = if one_column + 2 > area.height as usize { 2 } else { 1 };
    // Fill the first column up to half the lines, the rest go to the second.
    let mut cols: Vec<Vec<Line>> = vec![Vec::new(); columns];
    let mut col = 0;
    for section in sections {
        if columns == 2 && col == 0 && !cols[0].is_empty() && cols[0].len() + section.len() > one_column / 2 + 1 {
            col = 1;
        }
        if !cols[col].is_empty() {
            cols[col].push(Line::from(""));
        }
        cols[col].extend(section);
    }
    let tallest = cols.iter().map(Vec::len).max().unwrap_or(0) as u16;
    let w = area.width.saturating_sub(4).min(if columns == 2 { 100 } else { 56 });
    let h = (tallest + 2).min(area.height);
    let popup = area.centered(Constraint::Length(w), Constraint::Length(h));
    Clear.render(popup, buf);
    let block = Block::bordered().title(" Keys (esc closes) ");
    let inner = block.inner(popup);
    block.render(popup, buf);
    let areas = Layout::horizontal(vec![Constraint::Fill(1); columns])
        .spacing(2)
        .split(inner);
    for (lines, a) in cols.into_iter().zip(areas.iter()) {
        Paragraph::new(lines).render(*a, buf);
    }
}

//! The header: where you are (clouds, project) and how things stand.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

/// `clouds · status` left, `screen` right; the clouds go first when space is short.
pub fn render_header(clouds: &str, status: &str, screen: &str, area: Rect, buf: &mut Buffer) {
    let [left, right] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(screen.chars().count() as u16 + 2),
    ])
    .areas(area);
    let room = (left.width as usize).saturating_sub(15);
    let context = if clouds.chars().count() + 3 + status.chars().count() <= room {
        format!("{clouds} · {status}")
    } else {
        status.to_string()
    };
    Paragraph::new(Line::from(vec![
        Span::from(" stackmigrate ").reversed().bold(),
        Span::from(" "),
        Span::from(context),
    ]))
    .render(left, buf);
    Paragraph::new(Line::from(format!("{screen} ")).bold().right_aligned()).render(right, buf);
}

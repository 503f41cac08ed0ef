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
    // Narrow: the clouds go first, then the word "project", then the
    // project's name, before the figures and the clock at the end do.
    let bare = status.strip_prefix("project ").unwrap_or(status);
    let figures = bare.split_once(" · ").map_or(bare, |(_, rest)| rest);
    let candidates = [format!("{clouds} · {status}"), status.to_string(), bare.to_string()];
    let context = candidates
        .into_iter()
        .find(|c| c.chars().count() <= room)
        .unwrap_or_else(|| figures.to_string());
    Paragraph::new(Line::from(vec![
        Span::from(" stackmigrate ").reversed().bold(),
        Span::from(" "),
        Span::from(context),
    ]))
    .render(left, buf);
    Paragraph::new(Line::from(format!("{screen} ")).bold().right_aligned()).render(right, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(status: &str, width: u16) -> String {
        let area = Rect::new(0, 0, width, 1);
        let mut buf = Buffer::empty(area);
        render_header("old a → new b", status, "Dashboard", area, &mut buf);
        (0..width).map(|x| buf[(x, 0)].symbol().to_string()).collect()
    }

    #[test]
    fn at_80_columns_a_long_status_keeps_its_clock_and_the_screen_name() {
        let status = "project research · 10/11 verified · 3 synced · 00:01:12";
        let shown = line(status, 80);
        assert!(
            shown.contains(" research · 10/11 verified · 3 synced · 00:01:12"),
            "{shown}"
        );
        assert!(shown.trim_end().ends_with("Dashboard"), "{shown}");
        let longer = "project research · 10/11 verified · 1 failed · 3 synced · 00:01:12";
        let shown = line(longer, 80);
        assert!(
            shown.contains(" 10/11 verified · 1 failed · 3 synced · 00:01:12"),
            "{shown}"
        );
        // Wide enough: the status whole, and the clouds before it.
        let wide = line(status, 120);
        assert!(wide.contains("old a → new b · project research"), "{wide}");
    }
}

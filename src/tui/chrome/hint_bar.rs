//! The hint bar: the live bindings of the current mode, from the keymap.

use crate::tui::keymap::{hints, Scope, When};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub fn render_hints(scopes: &[Scope], live: impl Fn(When) -> bool, area: Rect, buf: &mut Buffer) {
    let mut spans = Vec::new();
    for (keys, words) in hints(scopes, live) {
        spans.push(Span::from(format!(" {keys} ")).reversed());
        spans.push(Span::from(format!(" {words} ")));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

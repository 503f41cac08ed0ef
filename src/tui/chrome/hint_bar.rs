//! The hint bar: the live bindings of the current mode, from the keymap.
//! Where they do not all fit, whole hints give way from the end, but the
//! last one (`?`, the full list) stays.

use crate::tui::keymap::{hints, Scope, When};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub fn render_hints(scopes: &[Scope], live: impl Fn(When) -> bool, area: Rect, buf: &mut Buffer) {
    let all = hints(scopes, live);
    let width = |(keys, words): &(String, &str)| keys.chars().count() + words.chars().count() + 4;
    let mut shown: Vec<&(String, &str)> = all.iter().collect();
    if all.iter().map(width).sum::<usize>() > area.width as usize {
        let last = all.last().map_or(0, width);
        let mut room = (area.width as usize).saturating_sub(last);
        shown = all[..all.len().saturating_sub(1)]
            .iter()
            .take_while(|h| {
                let fits = width(h) <= room;
                room = room.saturating_sub(width(h));
                fits
            })
            .chain(all.last())
            .collect();
    }
    let mut spans = Vec::new();
    for (keys, words) in shown {
        spans.push(Span::from(format!(" {keys} ")).reversed());
        spans.push(Span::from(format!(" {words} ")));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

//! A transient message under the screen (k9s's flash): it expires after a
//! few seconds, and errors stay longer than news.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashLevel {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub text: String,
    pub level: FlashLevel,
    pub until: Instant,
}

impl Flash {
    pub fn new(text: impl Into<String>, level: FlashLevel, now: Instant) -> Self {
        let secs = match level {
            FlashLevel::Info => 5,
            FlashLevel::Error => 12,
        };
        Self {
            text: text.into(),
            level,
            until: now + Duration::from_secs(secs),
        }
    }

    /// The flash line, or the log file's path when there is nothing to say.
    pub fn render(flash: Option<&Flash>, log_file: &str, area: Rect, buf: &mut Buffer) {
        let line = match flash {
            Some(f) if f.level == FlashLevel::Error => Line::styled(format!("✘ {}", f.text), Style::new().red().bold()),
            Some(f) => Line::styled(format!("› {}", f.text), Style::new().cyan()),
            None => Line::from(format!("log: {log_file}")).dim(),
        };
        Paragraph::new(line).render(area, buf);
    }
}

//! The cleanup-and-log pane: a bounded ring of lines with autoscroll (`s`)
//! and wrap (`w`). Wrapping is done here, by characters, so the pane knows
//! exactly how many rows its last lines take.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use std::collections::VecDeque;

const CAPACITY: usize = 5000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// Seconds since the run started.
    pub at: u64,
    pub who: Option<String>,
    pub text: String,
    pub level: Level,
}

#[derive(Debug, Clone)]
pub struct LogPane {
    lines: VecDeque<LogLine>,
    pub autoscroll: bool,
    pub wrap: bool,
    /// Lines between the newest line and the bottom of the view.
    back: usize,
}

impl Default for LogPane {
    fn default() -> Self {
        Self {
            lines: VecDeque::new(),
            autoscroll: true,
            wrap: false,
            back: 0,
        }
    }
}

impl LogPane {
    pub fn last(&self) -> Option<&LogLine> {
        self.lines.back()
    }

    /// Takes back the newest line (a duplicate of the one before).
    pub fn pop(&mut self) {
        self.lines.pop_back();
        self.back = self.back.min(self.lines.len().saturating_sub(1));
    }

    pub fn push(&mut self, line: LogLine) {
        if self.lines.len() == CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        // Reading older lines: keep them still while new ones arrive.
        if !self.autoscroll {
            self.back = (self.back + 1).min(self.lines.len().saturating_sub(1));
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }

    pub fn toggle_autoscroll(&mut self) {
        self.autoscroll = !self.autoscroll;
        if self.autoscroll {
            self.back = 0;
        }
    }

    /// Scrolls by `delta` lines (negative is older); scrolling stops autoscroll.
    pub fn scroll(&mut self, delta: isize) {
        self.autoscroll = false;
        let max = self.lines.len().saturating_sub(1);
        self.back = if delta < 0 {
            (self.back + delta.unsigned_abs()).min(max)
        } else {
            self.back.saturating_sub(delta as usize)
        };
    }

    fn styled(l: &LogLine) -> Vec<Span<'static>> {
        let style = match l.level {
            Level::Info => Style::new(),
            Level::Good => Style::new().green(),
            Level::Bad => Style::new().red(),
        };
        let at = format!("+{:02}:{:02} ", l.at / 60, l.at % 60);
        let who = l.who.as_deref().map(|w| format!("{w}: ")).unwrap_or_default();
        vec![
            Span::from(at).dim(),
            Span::from(who).bold(),
            Span::styled(l.text.clone(), style),
        ]
    }

    /// The rows shown in `width`×`height`: the lines ending `back` from the newest.
    fn rows(&self, width: usize, height: usize) -> Vec<Line<'static>> {
        let end = self.lines.len().saturating_sub(self.back);
        let mut rows: Vec<Line> = Vec::new();
        for l in self.lines.range(..end).rev() {
            if rows.len() >= height {
                break;
            }
            let spans = Self::styled(l);
            if !self.wrap || width == 0 {
                rows.push(Line::from(spans));
                continue;
            }
            // Split the line into rows of `width` characters, keeping styles.
            let mut wrapped: Vec<Vec<Span>> = vec![Vec::new()];
            let mut used = 0;
            for span in spans {
                let mut chunk = String::new();
                for ch in span.content.chars() {
                    if used == width {
                        let done = std::mem::take(&mut chunk);
                        if let Some(r) = wrapped.last_mut() {
                            r.push(Span::styled(done, span.style));
                        }
                        wrapped.push(Vec::new());
                        used = 0;
                    }
                    chunk.push(ch);
                    used += 1;
                }
                if let Some(r) = wrapped.last_mut() {
                    r.push(Span::styled(chunk, span.style));
                }
            }
            for r in wrapped.into_iter().rev() {
                rows.push(Line::from(r));
            }
        }
        rows.truncate(height);
        rows.reverse();
        rows
    }
}

impl Widget for &LogPane {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let flags = format!(
            // The keys are here, not in the hint bar.
            " Log · s autoscroll {} · w wrap {} ",
            if self.autoscroll { "on" } else { "off" },
            if self.wrap { "on" } else { "off" }
        );
        let block = Block::bordered().title(flags);
        let inner = block.inner(area);
        let rows = self.rows(inner.width as usize, inner.height as usize);
        let rows = if rows.is_empty() {
            vec![Line::from("no log lines yet").dim()]
        } else {
            rows
        };
        Paragraph::new(rows).block(block).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u64) -> LogLine {
        LogLine {
            at: i,
            who: None,
            text: format!("line {i}"),
            level: Level::Info,
        }
    }

    fn texts(rows: &[Line]) -> Vec<String> {
        rows.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn shows_the_newest_and_holds_still_when_scrolled() {
        let mut p = LogPane::default();
        (0..10).for_each(|i| p.push(line(i)));
        assert_eq!(texts(&p.rows(80, 2)), ["+00:08 line 8", "+00:09 line 9"]);
        p.scroll(-3);
        assert!(!p.autoscroll);
        assert_eq!(texts(&p.rows(80, 1)), ["+00:06 line 6"]);
        p.push(line(10));
        assert_eq!(
            texts(&p.rows(80, 1)),
            ["+00:06 line 6"],
            "new lines do not move the view"
        );
        p.toggle_autoscroll();
        assert_eq!(texts(&p.rows(80, 1)), ["+00:10 line 10"]);
    }

    #[test]
    fn wrap_splits_long_lines_into_rows() {
        let mut p = LogPane::default();
        p.push(line(1));
        p.wrap = true;
        assert_eq!(texts(&p.rows(8, 5)), ["+00:01 l", "ine 1"]);
        assert_eq!(texts(&p.rows(8, 1)), ["ine 1"]);
    }
}

//! The import + tape pane: for each volume past its export, the import (or
//! verify) gauge and the tape gauge side by side, with a state label.

use super::{Dashboard, StageProgress, VolumeProgress};
use crate::engine::{Phase, Track};
use crate::tui::format::{bar, fit};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

fn gauge(kind: &str, s: &StageProgress, width: usize) -> String {
    let mark = match s.state {
        Track::Succeeded => " ✔".to_string(),
        Track::Failed => " ✘".to_string(),
        _ => format!("{:>3}%", (s.ratio() * 100.0).floor() as u32),
    };
    format!("{kind:<6} {}{mark:>5}", bar(s.ratio(), width))
}

impl Dashboard {
    fn transfer_line(&self, v: &VolumeProgress, width: usize) -> Line<'static> {
        let name_w = if width >= 100 { 24 } else { 12 };
        let label_w = 11;
        // name, two gauges (kind 6 + space + bar + 5), a label.
        let bar_w = (width.saturating_sub(name_w + label_w + 2 * 12 + 3) / 2).max(3);
        let (kind, import) = v.import_gauge();
        let tape = if self.tape_enabled {
            gauge("tape", &v.tape, bar_w)
        } else {
            format!("{:<width$}", "tape off", width = bar_w + 12)
        };
        let state_style = match v.phase {
            Phase::Failed | Phase::Aborted | Phase::BackupFailed => Style::new().red(),
            Phase::Done | Phase::Cleaned => Style::new().green(),
            _ => Style::new(),
        };
        Line::from(vec![
            Span::from(format!("{:<name_w$} ", fit(&v.name, name_w))),
            Span::from(gauge(kind, import, bar_w)),
            Span::from(" "),
            Span::from(tape),
            Span::from(" "),
            Span::styled(fit(v.activity(), label_w), state_style),
        ])
    }

    pub(super) fn render_transfer(&self, area: Rect, buf: &mut Buffer) {
        let c = self.counts();
        let moving: Vec<&VolumeProgress> = self
            .volumes
            .iter()
            .filter(|v| matches!(v.phase, Phase::Exported | Phase::Transferring))
            .collect();
        let block = Block::bordered().title(format!(
            " Import + tape · {} in progress · {}/{} verified ",
            moving.len(),
            c.verified,
            c.total
        ));
        let inner = block.inner(area);
        let height = inner.height as usize;
        let shown = if moving.len() > height {
            height.saturating_sub(1)
        } else {
            moving.len()
        };
        let mut lines: Vec<Line> = moving
            .iter()
            .take(shown)
            .map(|v| self.transfer_line(v, inner.width as usize))
            .collect();
        if moving.len() > shown {
            lines.push(Line::from(format!("+{} more", moving.len() - shown)).dim());
        }
        if moving.is_empty() {
            lines.push(Line::from("nothing importing: volumes come here after their export").dim());
        }
        Paragraph::new(lines).block(block).render(area, buf);
    }
}

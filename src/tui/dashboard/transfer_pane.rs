//! The import + tape pane: for each volume past its export, the import (or
//! verify) gauge and the tape gauge side by side, with a state label. A
//! warm-synced volume has its row here too: its round (running, with a
//! gauge, or verified, with what it changed and what a cutover now would
//! take) and a sparkline of the bytes each round changed.

use super::{Dashboard, StageProgress, SyncRounds, VolumeProgress};
use crate::engine::{Phase, Track};
use crate::tui::format::{bar, bytes, duration, fit};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget};

fn is_sync(v: &VolumeProgress) -> bool {
    matches!(v.phase, Phase::Syncing | Phase::Synced | Phase::CuttingOver)
}

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

    /// A warm-synced volume: its round in words or as a gauge, and the
    /// changed bytes per round (after the full first one) as a sparkline.
    fn render_sync_row(&self, v: &VolumeProgress, area: Rect, buf: &mut Buffer) {
        let width = area.width as usize;
        let name_w = if width >= 100 { 24 } else { 12 };
        let spark_w = if width >= 100 { 30 } else { 16 };
        let [text_area, spark] = Layout::horizontal([Constraint::Min(10), Constraint::Length(spark_w as u16)])
            .spacing(1)
            .areas(area);
        let text_w = (text_area.width as usize).saturating_sub(name_w + 1);
        let rounds = v.sync.as_ref();
        let last = rounds.and_then(SyncRounds::last);
        let running = |label: String, g: &StageProgress| {
            let bar_w = text_w.saturating_sub(label.chars().count() + 6).clamp(3, 30);
            format!(
                "{label} {}{:>4}%",
                bar(g.ratio(), bar_w),
                (g.ratio() * 100.0).floor() as u32
            )
        };
        let text = match (v.phase, last) {
            (Phase::Synced, Some((n, changed))) => format!(
                "synced (round {n}{})  Δ {}  cutover ≈ {}",
                if v.rounds_stopped { ", rounds stopped" } else { "" },
                bytes(changed),
                duration(rounds.map_or(0.0, |r| r.projected_cutover_s))
            ),
            (Phase::Synced, None) => "synced, waiting for the next round".to_string(),
            (Phase::CuttingOver, _) => running("cutover".into(), &v.export),
            // Round 1 imports the export; later rounds stream what changed.
            (_, None) => running("round 1".into(), v.import_gauge().1),
            (_, Some((n, _))) => running(format!("round {}", n + 1), &v.export),
        };
        let style = if v.phase == Phase::Synced {
            Style::new().cyan()
        } else {
            Style::new()
        };
        Paragraph::new(Line::from(vec![
            Span::from(format!("{:<name_w$} ", fit(&v.name, name_w))),
            Span::styled(fit(&text, text_w), style),
        ]))
        .render(text_area, buf);
        let deltas = rounds.map(SyncRounds::deltas).unwrap_or_default();
        // The newest round at the right edge, older ones to its left.
        let shown = deltas.len().min(spark.width as usize);
        let [_, spark] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(shown as u16)]).areas(spark);
        Sparkline::default()
            .data(&deltas[deltas.len() - shown..])
            .max(deltas.iter().copied().max().unwrap_or(0).max(1))
            .render(spark, buf);
    }

    pub(super) fn render_transfer(&self, area: Rect, buf: &mut Buffer) {
        let c = self.counts();
        let moving: Vec<&VolumeProgress> = self
            .volumes
            .iter()
            .filter(|v| matches!(v.phase, Phase::Exported | Phase::Transferring) || is_sync(v))
            .collect();
        let warm = moving.iter().filter(|v| is_sync(v)).count();
        let mut title = format!(
            " Import + tape · {} in progress · {}/{} verified ",
            moving.len() - warm,
            c.verified,
            c.total
        );
        if warm > 0 {
            title.push_str(&format!("· {warm} in warm sync "));
        }
        let block = Block::bordered().title(title);
        let inner = block.inner(area);
        block.render(area, buf);
        let height = inner.height as usize;
        let shown = if moving.len() > height {
            height.saturating_sub(1)
        } else {
            moving.len()
        };
        let row = |i: usize| Rect {
            y: inner.y + i as u16,
            height: 1,
            ..inner
        };
        for (i, v) in moving.iter().take(shown).enumerate() {
            if is_sync(v) {
                self.render_sync_row(v, row(i), buf);
            } else {
                Paragraph::new(self.transfer_line(v, inner.width as usize)).render(row(i), buf);
            }
        }
        if moving.len() > shown {
            Paragraph::new(Line::from(format!("+{} more", moving.len() - shown)).dim()).render(row(shown), buf);
        }
        if moving.is_empty() && height > 0 {
            Paragraph::new(Line::from("nothing importing: volumes come here after their export").dim())
                .render(row(0), buf);
        }
    }
}

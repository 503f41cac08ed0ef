//! The export pane: a gauge per exporting volume with MiB/s and ETA, and
//! the last 60 s of what the old cluster streamed (exports and warm-sync
//! rounds) as a sparkline.

use super::{Dashboard, VolumeProgress};
use crate::engine::Phase;
use crate::tui::format::{bar, duration, fit, rate};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget};

impl Dashboard {
    pub(super) fn render_export(&self, area: Rect, buf: &mut Buffer) {
        let c = self.counts();
        let exporting: Vec<&VolumeProgress> = self.volumes.iter().filter(|v| v.phase == Phase::Exporting).collect();
        let block = Block::bordered().title(format!(
            " Export · {} running · {}/{} exported ",
            exporting.len(),
            c.exported,
            c.total
        ));
        let inner = block.inner(area);
        block.render(area, buf);
        let spark_w = if inner.width >= 100 { 40 } else { 22 };
        let [list, spark] = Layout::horizontal([Constraint::Min(20), Constraint::Length(spark_w)])
            .spacing(1)
            .areas(inner);
        self.render_export_rows(&exporting, list, buf);
        self.render_sparkline(spark, buf);
    }

    fn render_export_rows(&self, exporting: &[&VolumeProgress], area: Rect, buf: &mut Buffer) {
        let height = area.height as usize;
        let width = area.width as usize;
        let name_w = if width >= 80 { 24 } else { 12 };
        let bar_w = width.saturating_sub(name_w + 1 + 5 + 11 + 10).max(4);
        let shown = if exporting.len() > height {
            height.saturating_sub(1)
        } else {
            exporting.len()
        };
        let mut lines: Vec<Line> = exporting
            .iter()
            .take(shown)
            .map(|v| {
                let s = &v.export;
                let speed = s.rate(self.now).map_or_else(|| "…".to_string(), rate);
                let eta = s
                    .eta(self.now)
                    .map_or_else(String::new, |e| format!(" ETA {}", duration(e)));
                Line::from(format!(
                    "{:<name_w$} {}{:>4}% {:>10}{eta}",
                    fit(&v.name, name_w),
                    bar(s.ratio(), bar_w),
                    (s.ratio() * 100.0).floor() as u32,
                    speed
                ))
            })
            .collect();
        if exporting.len() > shown {
            lines.push(Line::from(format!("+{} more exporting", exporting.len() - shown)).dim());
        }
        if exporting.is_empty() {
            let queued = self.volumes.iter().filter(|v| v.phase == Phase::Queued).count();
            let text = match queued {
                0 => "no export running".to_string(),
                n => format!("no export running · {n} queued"),
            };
            lines.push(Line::from(text).dim());
        }
        Paragraph::new(lines).render(area, buf);
    }

    fn render_sparkline(&self, area: Rect, buf: &mut Buffer) {
        let [label, chart] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        let mib = |b: u64| format!("{:.0}", b as f64 / f64::from(1u32 << 20));
        let text = format!(
            "{} MiB/s (peak {})",
            mib(self.throughput.last()),
            mib(self.throughput.peak())
        );
        Paragraph::new(fit(&text, area.width as usize)).dim().render(label, buf);
        let samples: Vec<u64> = self.throughput.samples().collect();
        // The newest second at the right edge, older ones to its left.
        let shown = samples.len().min(chart.width as usize);
        let [_, chart] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(shown as u16)]).areas(chart);
        Sparkline::default()
            .data(&samples[samples.len() - shown..])
            .max(self.throughput.peak().max(1))
            .render(chart, buf);
    }
}

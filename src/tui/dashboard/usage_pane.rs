//! The usage pane: the months of the usage archive as their queries return
//! (in month order), with totals, and how far along the archive is.

use crate::tui::screens::UsageStatus;
use crate::usage::MonthTotals;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Row, Table, Widget};

#[derive(Debug, Clone, Default)]
pub struct UsagePane {
    pub months: Vec<MonthTotals>,
    /// Months in the configured period; `None` when usage is not archived.
    pub expected: Option<usize>,
    pub status: UsageStatus,
}

impl UsagePane {
    fn totals(&self) -> (f64, f64, f64, f64, usize) {
        self.months.iter().fold((0.0, 0.0, 0.0, 0.0, 0), |t, m| {
            (
                t.0 + m.total_hours,
                t.1 + m.total_vcpus_usage,
                t.2 + m.total_memory_mb_usage / 1024.0,
                t.3 + m.total_local_gb_usage,
                t.4.max(m.servers),
            )
        })
    }
}

impl Widget for &UsagePane {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let progress = match (&self.status, self.expected) {
            (UsageStatus::Off, _) | (_, None) => "off: no usage period in the config".to_string(),
            (UsageStatus::Failed(e), _) => format!("failed: {e}"),
            (UsageStatus::Done, Some(n)) => format!("{} of {n} months · archived", self.months.len()),
            (UsageStatus::Running, Some(n)) => format!("{} of {n} months", self.months.len()),
        };
        let block = Block::bordered().title(format!(" Usage · {progress} "));
        let inner = block.inner(area);
        // Narrow panes keep hours, vCPU hours and servers.
        let full = inner.width >= 60;
        let pick = |cells: [String; 6]| -> Row<'static> {
            let [m, h, c, r, d, s] = cells;
            if full {
                Row::new([m, h, c, r, d, s])
            } else {
                Row::new([m, h, c, s])
            }
        };
        let height = inner.height.saturating_sub(2) as usize;
        // The newest months when they do not all fit; totals always show.
        let skip = self.months.len().saturating_sub(height);
        let mut rows: Vec<Row> = self.months[skip..]
            .iter()
            .map(|m| {
                pick([
                    m.month.clone(),
                    format!("{:.1}", m.total_hours),
                    format!("{:.1}", m.total_vcpus_usage),
                    format!("{:.1}", m.total_memory_mb_usage / 1024.0),
                    format!("{:.1}", m.total_local_gb_usage),
                    m.servers.to_string(),
                ])
            })
            .collect();
        if !self.months.is_empty() {
            let (h, c, r, d, s) = self.totals();
            rows.push(
                pick([
                    "total".into(),
                    format!("{h:.1}"),
                    format!("{c:.1}"),
                    format!("{r:.1}"),
                    format!("{d:.1}"),
                    format!("max {s}"),
                ])
                .style(Style::new().bold()),
            );
        }
        let header = pick(["MONTH", "HOURS", "vCPU·h", "RAM GiB·h", "DISK GiB·h", "SERVERS"].map(String::from))
            .style(Style::new().bold());
        let widths: Vec<Constraint> = if full {
            let mut w = vec![Constraint::Length(7)];
            w.extend([Constraint::Fill(1); 4]);
            w.push(Constraint::Length(7));
            w
        } else {
            vec![
                Constraint::Length(7),
                Constraint::Fill(1),
                Constraint::Fill(1),
                Constraint::Length(7),
            ]
        };
        Table::new(rows, widths).header(header).block(block).render(area, buf);
    }
}

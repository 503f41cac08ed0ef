//! The dashboard's layout: export and import+tape panes on top, the volume
//! list beside the usage and log panes below. Wide terminals show usage and
//! log together; compact ones switch between them with tab.

use super::{is_wide, Dashboard};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Widget;

impl Widget for &Dashboard {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let wide = is_wide(area.width, area.height);
        let pane_h = if wide { 8 } else { 6 };
        let [export, transfer, bottom] = Layout::vertical([
            Constraint::Length(pane_h),
            Constraint::Length(pane_h),
            Constraint::Min(5),
        ])
        .areas(area);
        self.render_export(export, buf);
        self.render_transfer(transfer, buf);
        let list_w = if wide { 44 } else { 34 };
        let [list, right] = Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(bottom);
        self.render_volume_list(list, buf);
        if wide {
            let usage_h = (self.usage.months.len() as u16 + 4).clamp(5, 10);
            let [usage, log] = Layout::vertical([Constraint::Length(usage_h), Constraint::Min(3)]).areas(right);
            self.usage.render(usage, buf);
            self.log.render(log, buf);
        } else if self.show_usage {
            self.usage.render(right, buf);
        } else {
            self.log.render(right, buf);
        }
    }
}

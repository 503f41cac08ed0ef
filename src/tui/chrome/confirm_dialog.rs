//! A confirmation for destructive actions, with Cancel focused so that an
//! absent-minded `enter` does nothing harmful.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogAction {
    Abort(String),
    Stop,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmDialog {
    pub title: String,
    pub body: String,
    pub cancel: &'static str,
    pub ok: &'static str,
    pub ok_focused: bool,
    pub action: DialogAction,
}

impl ConfirmDialog {
    pub fn abort(volume_id: &str, name: &str) -> Self {
        Self {
            title: format!(" Abort {name}? "),
            body: "Its running stage stops now. What is already done (export, verified copy) is kept, \
                   and r retries it from there."
                .into(),
            cancel: "Cancel",
            ok: "Abort",
            ok_focused: false,
            action: DialogAction::Abort(volume_id.to_string()),
        }
    }

    pub fn stop() -> Self {
        Self {
            title: " Stop the migration? ".into(),
            body: "Running stages stop. Work already done is kept in the journal, and running \
                   stackmigrate again for this project resumes where it stopped."
                .into(),
            cancel: "Keep running",
            ok: "Stop",
            ok_focused: false,
            action: DialogAction::Stop,
        }
    }
}

impl Widget for &ConfirmDialog {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let w = area.width.saturating_sub(4).min(60);
        let popup = area.centered(Constraint::Length(w), Constraint::Length(9));
        Clear.render(popup, buf);
        let block = Block::bordered()
            .title(self.title.clone())
            .title_style(Style::new().bold());
        let inner = block.inner(popup);
        block.render(popup, buf);
        let [body, buttons] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        Paragraph::new(self.body.clone())
            .wrap(Wrap { trim: true })
            .render(body, buf);
        let button = |label: &str, focused: bool| {
            if focused {
                Span::styled(format!("▸ {label} ◂"), Style::new().reversed().bold())
            } else {
                Span::from(format!("  {label}  "))
            }
        };
        Paragraph::new(Line::from(vec![
            button(self.cancel, !self.ok_focused),
            Span::from("   "),
            button(self.ok, self.ok_focused),
        ]))
        .centered()
        .render(buttons, buf);
    }
}

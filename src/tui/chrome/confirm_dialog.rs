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
    /// Ask the engine to start this volume over.
    StartOver(String),
    Stop,
    /// Ask the engine to cut these volumes over (`force`: even while a
    /// server may still write to the source).
    Cutover {
        ids: Vec<String>,
        force: bool,
    },
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
    /// `between_rounds`: a synced volume waiting for its next round.
    pub fn abort(volume_id: &str, name: &str, between_rounds: bool) -> Self {
        let (title, body, ok) = match between_rounds {
            false => (
                format!(" Abort {name}? "),
                "Its running stage stops now. What is already done (export, verified copy) is kept, \
                 and r retries it from there.",
                "Abort",
            ),
            true => (
                format!(" Stop {name}'s rounds? "),
                "It waits for its next warm-sync round: none runs for it after this until r (or a new \
                 run) syncs it on. Its verified rounds are kept; c still cuts it over. A round that \
                 started meanwhile is aborted instead (r retries it).",
                "Stop rounds",
            ),
        };
        Self {
            title,
            body: body.into(),
            cancel: "Cancel",
            ok,
            ok_focused: false,
            action: DialogAction::Abort(volume_id.to_string()),
        }
    }

    /// Forget the volume's copy and copy it afresh.
    pub fn start_over(volume_id: &str, name: &str) -> Self {
        Self {
            title: format!(" Start {name} over? "),
            body: "Its copy is forgotten: the export, the verified rounds and the new volume it made. It is \
                   copied afresh, round 1 included. A new volume the old copy made is left alone and never \
                   reused (delete it in the new cloud once nobody uses it); the old copy's warm-sync \
                   snapshots are removed first, and its staging image is made anew."
                .into(),
            cancel: "Keep it",
            ok: "Start over",
            ok_focused: false,
            action: DialogAction::StartOver(volume_id.to_string()),
        }
    }

    /// `removed_on_exit`: the run's directory goes with the dashboard (the
    /// demo without `--work-dir`), so there is nothing to resume.
    pub fn stop(removed_on_exit: bool) -> Self {
        let body = match removed_on_exit {
            false => "Running stages stop. Work already done is kept in the journal, and running \
                      stackmigrate again for this project resumes where it stopped."
                .into(),
            true => format!("Running stages stop; {}.", crate::tui::app::NOTHING_TO_RESUME),
        };
        Self {
            title: " Stop the migration? ".into(),
            body,
            cancel: "Keep running",
            ok: "Stop",
            ok_focused: false,
            action: DialogAction::Stop,
        }
    }
}

/// What every cutover does, as the dialog says it.
const CUTOVER_WHAT: &str = "a final round copies what changed since the last one, but only once the source \
     is detached or all its servers are SHUTOFF (else the cutover is refused, naming the server); then \
     the new volume is verified and taped like any copy";

impl ConfirmDialog {
    /// `volumes`: (id, name) of each volume to cut over.
    pub fn cutover(volumes: &[(String, String)]) -> Self {
        let (title, body) = match volumes {
            [(_, name)] => (format!(" Cut {name} over? "), upper_first(CUTOVER_WHAT)),
            many => {
                let names: Vec<&str> = many.iter().map(|(_, n)| n.as_str()).collect();
                (
                    format!(" Cut {} synced volumes over? ", many.len()),
                    format!("{}: for each, {CUTOVER_WHAT}", names.join(", ")),
                )
            }
        };
        Self {
            title,
            body: format!("{body}."),
            cancel: "Keep syncing",
            ok: "Cut over",
            ok_focused: false,
            action: DialogAction::Cutover {
                ids: volumes.iter().map(|(id, _)| id.clone()).collect(),
                force: false,
            },
        }
    }

    /// Cut one volume over even if a server may still write to its source;
    /// `refusal`: why the last cutover was refused, when one was.
    pub fn force_cutover(volume_id: &str, name: &str, refusal: Option<&str>) -> Self {
        let why = refusal.map_or(String::new(), |r| format!("{r}. "));
        Self {
            title: format!(" FORCE the cutover of {name}? "),
            body: format!(
                "{why}Writes the server makes after the final snapshot will NOT be in the copy. \
                 The log gets a WARNING and the report marks the volume FORCED. \
                 A source that is detached or whose servers are SHUTOFF is cut over normally."
            ),
            cancel: "Keep syncing",
            ok: "Force cutover",
            ok_focused: false,
            action: DialogAction::Cutover {
                ids: vec![volume_id.to_string()],
                force: true,
            },
        }
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl Widget for &ConfirmDialog {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let w = area.width.saturating_sub(4).min(60);
        // Tall enough for the body wrapped at the popup's width (a cutover's is long).
        let inner_w = w.saturating_sub(2).max(1) as usize;
        let body_rows = (self.body.chars().count().div_ceil(inner_w) as u16 + 1).max(6);
        let h = (body_rows + 3).min(area.height);
        let popup = area.centered(Constraint::Length(w), Constraint::Length(h));
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

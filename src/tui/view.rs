//! The frame: header, the current screen, flash line, hint bar, and the
//! overlays. A pure function of [`App`].

use super::app::{App, Screen};
use super::chrome::{render_header, render_help, render_hints, Flash};
use crate::tui::format::clock;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Widget;

fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}{}", u.port().map_or(String::new(), |p| format!(":{p}"))))
        })
        .unwrap_or_else(|| url.to_string())
}

impl App {
    /// The clouds, and the project and counts, for the header.
    pub fn context(&self) -> (String, String) {
        let clouds = format!(
            "old {} → new {}",
            host(&self.cfg.old_cloud.auth_url),
            host(&self.cfg.new_cloud.auth_url)
        );
        let project = self.project.as_ref().map(|p| crate::escaped::escape(&p.name));
        let project = project.as_deref();
        let rest = match (self.screen, project) {
            (Screen::Connect, _) => {
                let ok = self.connect.checks.len() - self.connect.failures() - self.connect.pending();
                format!("checks {ok}/{} ✔", self.connect.checks.len())
            }
            (Screen::Projects, _) => format!("{} projects", self.projects.len()),
            (Screen::Volumes, Some(p)) => format!(
                "project {p} · {} volumes · {} ticked",
                self.volumes.rows.len(),
                self.volumes.selected.len()
            ),
            (Screen::Plan, Some(p)) => format!("project {p} · {} volumes to migrate", self.plan.volumes.len()),
            (Screen::Dashboard | Screen::Summary, Some(p)) => match &self.dashboard {
                Some(d) => {
                    let c = d.counts();
                    let mut s = format!("project {p} · {}/{} verified", c.verified, c.total);
                    if c.failed > 0 {
                        s.push_str(&format!(" · {} failed", c.failed));
                    }
                    if c.aborted > 0 {
                        s.push_str(&format!(" · {} aborted", c.aborted));
                    }
                    if c.synced > 0 {
                        s.push_str(&format!(" · {} synced", c.synced));
                    }
                    let secs = d.now.saturating_duration_since(d.started).as_secs();
                    s.push_str(&format!(" · {}", clock(secs)));
                    s
                }
                None => format!("project {p}"),
            },
            (_, None) => String::new(),
        };
        (clouds, rest)
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [header, body, flash, hints] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let (clouds, status) = self.context();
        render_header(&clouds, &status, self.screen.title(), header, buf);
        match self.screen {
            Screen::Connect => self.connect.render(body, buf),
            Screen::Projects => self.projects.render(body, buf),
            Screen::Volumes => self.volumes.render(body, buf),
            Screen::Plan => self.plan.render(body, buf),
            Screen::Dashboard => {
                if let Some(d) = &self.dashboard {
                    d.render(body, buf);
                }
            }
            Screen::Summary => self.summary.render(body, buf),
        }
        Flash::render(self.flash.as_ref(), &self.log_file.display().to_string(), flash, buf);
        render_hints(&self.scopes(), |w| self.live(w), hints, buf);
        if let Some(d) = &self.dialog {
            d.render(body, buf);
        }
        if self.help {
            render_help(&self.help_scopes(), body, buf);
        }
    }
}

//! Connect: the config in use and the live checks (auth, block stores,
//! directories) that must pass before projects can be browsed.

use crate::check_line::CheckLine;
use crate::config::{CloudConfig, Config};
use crate::tui::format::fit;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};
use std::path::Path;

/// The checks, in the order they are listed and run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckKind {
    OldAuth,
    NewAuth,
    OldStore,
    NewStore,
    WorkDir,
    ExportDir,
}

impl CheckKind {
    pub const ALL: [CheckKind; 6] = [
        CheckKind::OldAuth,
        CheckKind::NewAuth,
        CheckKind::OldStore,
        CheckKind::NewStore,
        CheckKind::WorkDir,
        CheckKind::ExportDir,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CheckKind::OldAuth => "old cloud: authenticate",
            CheckKind::NewAuth => "new cloud: authenticate",
            CheckKind::OldStore => "old cloud: block storage",
            CheckKind::NewStore => "new cloud: block storage",
            CheckKind::WorkDir => "work dir",
            CheckKind::ExportDir => "export dir",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConnectScreen {
    /// (label, value) lines describing the config; fixed for the session.
    config: Vec<(&'static str, String)>,
    /// One per [`CheckKind::ALL`]; `None` while it runs.
    pub checks: Vec<Option<CheckLine>>,
    /// Warnings from loading the config (e.g. a group-readable credentials
    /// file), shown under the checks: the TUI's screen would hide stderr.
    pub warnings: Vec<String>,
}

fn store(cloud: &CloudConfig) -> String {
    match (&cloud.ceph, &cloud.files) {
        (Some(c), _) => format!("ceph pool {} as client.{} via {}", c.pool, c.id, c.conf.display()),
        (None, Some(f)) => format!("files in {}", f.dir.display()),
        (None, None) => "none configured (add a ceph section)".into(),
    }
}

/// `✔ ` in green or `✘ ` in bold red, for the connect and plan screens.
pub(super) fn mark(line: &CheckLine) -> Span<'static> {
    let style = if line.ok {
        Style::new().green()
    } else {
        Style::new().red().bold()
    };
    Span::styled(format!("{} ", line.mark()), style)
}

fn cloud(c: &CloudConfig) -> String {
    let user = match &c.auth {
        crate::config::AuthMethod::Password { username, .. } => username.clone(),
        crate::config::AuthMethod::ApplicationCredential { .. } => "application credential".into(),
    };
    let project = c.project_name.as_deref().or(c.project_id.as_deref()).unwrap_or("-");
    format!(
        "{} · {} · {user} → project {project}",
        c.auth_url,
        c.region.as_deref().unwrap_or("no region")
    )
}

impl ConnectScreen {
    pub fn new(cfg: &Config, log_file: &Path) -> Self {
        let tape = match &cfg.tape {
            Some(t) => format!("on: {}", t.command.join(" ")),
            None => "off (tape is null)".into(),
        };
        let usage = match &cfg.usage {
            Some(u) => format!("{} → {}", u.start.date(), u.end.date()),
            None => "not archived (no usage period)".into(),
        };
        let types = if cfg.volume_type_map.is_empty() {
            "none: types are sent as-is".to_string()
        } else {
            cfg.volume_type_map
                .iter()
                .map(|(a, b)| format!("{a}→{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let c = &cfg.concurrency;
        let config = vec![
            ("old cloud", cloud(&cfg.old_cloud)),
            ("  storage", store(&cfg.old_cloud)),
            ("new cloud", cloud(&cfg.new_cloud)),
            ("  storage", store(&cfg.new_cloud)),
            ("work dir", cfg.work_dir.display().to_string()),
            (
                "export dir",
                cfg.export_dir
                    .as_ref()
                    .map_or("none (streams straight into the new cluster)".into(), |d| {
                        d.display().to_string()
                    }),
            ),
            ("tape", tape),
            (
                "strategy",
                format!(
                    "{:?} · {} exports, {} imports, {} tapes at once",
                    cfg.import_strategy,
                    c.exports,
                    c.imports,
                    cfg.tape_jobs()
                )
                .to_lowercase(),
            ),
            ("usage", usage),
            ("type map", types),
            ("log", log_file.display().to_string()),
        ];
        Self {
            config,
            checks: vec![None; CheckKind::ALL.len()],
            warnings: Vec::new(),
        }
    }

    pub fn restart(&mut self) {
        self.checks.fill(None);
    }

    pub fn set(&mut self, index: usize, line: CheckLine) {
        if let Some(slot) = self.checks.get_mut(index) {
            *slot = Some(line);
        }
    }

    /// `None` while the check runs.
    pub fn state(&self, kind: CheckKind) -> Option<&CheckLine> {
        let i = CheckKind::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        self.checks[i].as_ref()
    }

    pub fn failures(&self) -> usize {
        self.checks.iter().filter(|c| c.as_ref().is_some_and(|c| !c.ok)).count()
    }

    pub fn pending(&self) -> usize {
        self.checks.iter().filter(|c| c.is_none()).count()
    }
}

impl ConnectScreen {
    fn render_checks(&self, area: Rect, buf: &mut Buffer) {
        let width = area.width.saturating_sub(4) as usize;
        let warnings = self.warnings.iter().map(|w| {
            Line::from(vec![
                Span::styled("⚠ ", Style::new().yellow().bold()),
                Span::styled(w.clone(), Style::new().yellow()),
            ])
        });
        let lines: Vec<Line> = CheckKind::ALL
            .iter()
            .zip(&self.checks)
            .map(|(kind, state)| match state {
                None => Line::from(vec![
                    Span::styled("… ", Style::new().dim()),
                    Span::from(format!("{}: checking", kind.label())),
                ]),
                Some(c) => {
                    let text = format!("{}: {}", kind.label(), c.text);
                    // Passing lines fit on one row; failures wrap, their text says what to fix.
                    let text = if c.ok { fit(&text, width) } else { text };
                    Line::from(vec![mark(c), Span::from(text)])
                }
            })
            .chain(warnings)
            .collect();
        let title = match (self.pending(), self.failures()) {
            (0, 0) => " Checks: all passed · enter browses projects ".to_string(),
            (0, n) => format!(" Checks: {n} failed · fix and press r "),
            (n, _) => format!(" Checks: {n} running "),
        };
        Paragraph::new(lines)
            .block(Block::bordered().title(title))
            .wrap(Wrap { trim: false })
            .render(area, buf);
    }

    fn render_config(&self, area: Rect, buf: &mut Buffer) {
        let width = area.width.saturating_sub(14) as usize;
        let lines: Vec<Line> = self
            .config
            .iter()
            .map(|(k, v)| Line::from(vec![Span::from(format!("{k:<11} ")).dim(), Span::from(fit(v, width))]))
            .collect();
        Paragraph::new(lines)
            .block(Block::bordered().title(" Configuration "))
            .render(area, buf);
    }
}

impl Widget for &ConnectScreen {
    fn render(self, area: Rect, buf: &mut Buffer) {
        // Failures wrap: give each the rows its text needs.
        let width = area.width.saturating_sub(2).max(1) as usize;
        let rows: usize = CheckKind::ALL
            .iter()
            .zip(&self.checks)
            .map(|(kind, state)| match state {
                // Word wrapping can take a row more than the characters need.
                Some(c) if !c.ok => (kind.label().chars().count() + c.text.chars().count() + 4).div_ceil(width) + 1,
                _ => 1,
            })
            .sum::<usize>()
            + self
                .warnings
                .iter()
                .map(|w| (w.chars().count() + 2).div_ceil(width) + 1)
                .sum::<usize>();
        let checks_h = (rows as u16 + 2).min(area.height.saturating_sub(3));
        let [checks, config] = Layout::vertical([Constraint::Length(checks_h), Constraint::Min(3)]).areas(area);
        self.render_checks(checks, buf);
        self.render_config(config, buf);
    }
}

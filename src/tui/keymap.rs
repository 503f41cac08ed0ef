//! The keymap is data: (scope, keys) → action, with the words the hint bar
//! and the `?` screen show. Both are generated from this table, so they
//! cannot disagree with what the keys do.

use super::Action;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies: an overlay or mode, a screen, or everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Help,
    Dialog,
    Filter,
    Connect,
    Projects,
    Volumes,
    Plan,
    Dashboard,
    Summary,
}

impl Scope {
    pub fn title(self) -> &'static str {
        match self {
            Scope::Global => "everywhere",
            Scope::Help => "help",
            Scope::Dialog => "confirm dialog",
            Scope::Filter => "typing a filter",
            Scope::Connect => "connect",
            Scope::Projects => "projects",
            Scope::Volumes => "volumes",
            Scope::Plan => "plan",
            Scope::Dashboard => "dashboard",
            Scope::Summary => "summary",
        }
    }
}

/// When a binding is live; the hint bar shows only live bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The selected volume is still running or queued.
    Abortable,
    /// The selected volume failed, was aborted, or its tape copy failed.
    Retryable,
    /// The selected volume failed or was aborted, and nothing of it runs.
    CanStartOver,
    /// The selected volume is warm-synced and may be cut over.
    CanCutOver,
    /// Some volume is warm-synced and may be cut over.
    AnySynced,
    /// Every volume is settled and the run can be finished.
    Settled,
    /// The log and usage panes share space (small terminals).
    Compact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn c(ch: char) -> Key {
    k(KeyCode::Char(ch))
}

const fn ctrl(ch: char) -> Key {
    Key {
        code: KeyCode::Char(ch),
        mods: KeyModifiers::CONTROL,
    }
}

impl Key {
    pub fn matches(&self, e: &KeyEvent) -> bool {
        // Shifted letters arrive as uppercase chars with SHIFT set.
        let mods = e.modifiers - KeyModifiers::SHIFT;
        self.code == e.code && self.mods == mods
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(ch) => ch.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            other => format!("{other:?}").to_lowercase(),
        };
        if self.mods.contains(KeyModifiers::CONTROL) {
            format!("ctrl-{base}")
        } else {
            base
        }
    }
}

pub struct Binding {
    pub scope: Scope,
    pub keys: &'static [Key],
    pub action: Action,
    pub help: &'static str,
    /// Shown in the hint bar (movement keys are only in `?`).
    pub hint: bool,
    pub when: When,
}

impl Binding {
    pub fn keys_label(&self) -> String {
        self.keys.iter().map(Key::label).collect::<Vec<_>>().join("/")
    }
}

const fn b(scope: Scope, keys: &'static [Key], action: Action, help: &'static str) -> Binding {
    Binding {
        scope,
        keys,
        action,
        help,
        hint: true,
        when: When::Always,
    }
}

const fn quiet(scope: Scope, keys: &'static [Key], action: Action, help: &'static str) -> Binding {
    Binding {
        scope,
        keys,
        action,
        help,
        hint: false,
        when: When::Always,
    }
}

const fn when(mut binding: Binding, w: When) -> Binding {
    binding.when = w;
    binding
}

const UP: &[Key] = &[k(KeyCode::Up), c('k')];
const DOWN: &[Key] = &[k(KeyCode::Down), c('j')];
const PGUP: &[Key] = &[k(KeyCode::PageUp)];
const PGDN: &[Key] = &[k(KeyCode::PageDown)];
const HOME: &[Key] = &[k(KeyCode::Home), c('g')];
const END: &[Key] = &[k(KeyCode::End), c('G')];
const ENTER: &[Key] = &[k(KeyCode::Enter)];
const ESC: &[Key] = &[k(KeyCode::Esc)];
const SLASH: &[Key] = &[c('/')];
const Q: &[Key] = &[c('q')];

/// Movement in a list; the same in every screen that has one.
macro_rules! movement {
    ($scope:expr) => {
        [
            quiet($scope, UP, Action::Up, "move up"),
            quiet($scope, DOWN, Action::Down, "move down"),
            quiet($scope, PGUP, Action::PageUp, "page up"),
            quiet($scope, PGDN, Action::PageDown, "page down"),
            quiet($scope, HOME, Action::Top, "first"),
            quiet($scope, END, Action::Bottom, "last"),
        ]
    };
}

static PROJECT_MOVES: [Binding; 6] = movement!(Scope::Projects);
static VOLUME_MOVES: [Binding; 6] = movement!(Scope::Volumes);
static DASHBOARD_MOVES: [Binding; 4] = [
    quiet(Scope::Dashboard, UP, Action::Up, "select previous volume"),
    quiet(Scope::Dashboard, DOWN, Action::Down, "select next volume"),
    quiet(Scope::Dashboard, HOME, Action::Top, "first volume"),
    quiet(Scope::Dashboard, END, Action::Bottom, "last volume"),
];
static SUMMARY_MOVES: [Binding; 6] = movement!(Scope::Summary);

static OWN: &[Binding] = &[
    b(
        Scope::Help,
        &[k(KeyCode::Esc), c('?'), c('q')],
        Action::Help,
        "close help",
    ),
    b(
        Scope::Dialog,
        &[k(KeyCode::Tab), k(KeyCode::Left), k(KeyCode::Right)],
        Action::DialogSwitch,
        "switch",
    ),
    b(Scope::Dialog, ENTER, Action::DialogChoose, "choose"),
    b(Scope::Dialog, ESC, Action::DialogCancel, "cancel"),
    b(Scope::Filter, ENTER, Action::FilterApply, "apply filter"),
    b(Scope::Filter, ESC, Action::FilterClear, "clear filter"),
    quiet(Scope::Filter, &[ctrl('c')], Action::Quit, "quit"),
    b(Scope::Connect, ENTER, Action::Enter, "projects"),
    b(Scope::Connect, &[c('r')], Action::Refresh, "re-check"),
    b(Scope::Connect, Q, Action::Quit, "quit"),
    b(Scope::Projects, ENTER, Action::Enter, "volumes"),
    b(Scope::Projects, SLASH, Action::FilterStart, "filter"),
    b(Scope::Projects, &[c('r')], Action::Refresh, "reload"),
    b(Scope::Projects, ESC, Action::Back, "back"),
    b(Scope::Projects, Q, Action::Quit, "quit"),
    b(Scope::Volumes, &[c(' ')], Action::Toggle, "tick"),
    b(Scope::Volumes, &[c('a')], Action::SelectAll, "all"),
    b(Scope::Volumes, &[c('n')], Action::SelectNone, "none"),
    b(Scope::Volumes, SLASH, Action::FilterStart, "filter"),
    b(Scope::Volumes, ENTER, Action::Enter, "plan"),
    quiet(Scope::Volumes, &[c('r')], Action::Refresh, "reload"),
    b(Scope::Volumes, ESC, Action::Back, "back"),
    quiet(Scope::Volumes, Q, Action::Quit, "quit"),
    b(Scope::Plan, &[c('y')], Action::Confirm, "start migration"),
    b(Scope::Plan, ESC, Action::Back, "back"),
    quiet(Scope::Plan, UP, Action::Up, "scroll up"),
    b(Scope::Plan, DOWN, Action::Down, "scroll"),
    quiet(Scope::Plan, Q, Action::Quit, "quit"),
    when(
        b(Scope::Dashboard, &[c('x')], Action::Abort, "abort volume"),
        When::Abortable,
    ),
    when(
        b(Scope::Dashboard, &[c('r')], Action::Retry, "retry volume"),
        When::Retryable,
    ),
    // For a copy that cannot go on: not on the hint bar, the failure names it.
    when(
        quiet(
            Scope::Dashboard,
            &[c('R')],
            Action::StartOver,
            "start the volume over (copied afresh)",
        ),
        When::CanStartOver,
    ),
    when(
        b(Scope::Dashboard, &[c('c')], Action::Cutover, "cut over"),
        When::CanCutOver,
    ),
    when(
        b(Scope::Dashboard, &[c('C')], Action::CutoverAll, "cut over all synced"),
        When::AnySynced,
    ),
    // Rarely right, so not on the hint bar: the refusal's notice names it.
    when(
        quiet(
            Scope::Dashboard,
            &[c('F')],
            Action::ForceCutover,
            "force cut over (server running)",
        ),
        When::CanCutOver,
    ),
    when(b(Scope::Dashboard, ENTER, Action::Finish, "finish"), When::Settled),
    // The log pane's title shows both toggles; the hint bar keeps its room
    // for the keys that act on volumes.
    quiet(Scope::Dashboard, &[c('s')], Action::Autoscroll, "log autoscroll on/off"),
    quiet(Scope::Dashboard, &[c('w')], Action::Wrap, "log wrap on/off"),
    when(
        b(Scope::Dashboard, &[k(KeyCode::Tab)], Action::SwitchPane, "log/usage"),
        When::Compact,
    ),
    quiet(Scope::Dashboard, PGUP, Action::PageUp, "scroll log up"),
    quiet(Scope::Dashboard, PGDN, Action::PageDown, "scroll log down"),
    b(Scope::Dashboard, Q, Action::Quit, "stop"),
    b(Scope::Summary, Q, Action::Quit, "quit"),
    b(Scope::Global, &[c('?')], Action::Help, "help"),
    quiet(Scope::Global, &[ctrl('c')], Action::Quit, "quit (asks in a run)"),
];

/// Every binding, in the order help lists them.
pub fn bindings() -> impl Iterator<Item = &'static Binding> + Clone {
    PROJECT_MOVES
        .iter()
        .chain(&VOLUME_MOVES)
        .chain(&DASHBOARD_MOVES)
        .chain(&SUMMARY_MOVES)
        .chain(OWN)
}

/// The first live binding for `key` in `scopes` (earlier scopes win).
pub fn lookup(scopes: &[Scope], key: &KeyEvent, live: impl Fn(When) -> bool) -> Option<&'static Binding> {
    scopes
        .iter()
        .find_map(|s| bindings().find(|bd| bd.scope == *s && live(bd.when) && bd.keys.iter().any(|k| k.matches(key))))
}

/// The hint bar's entries for `scopes`: (keys, words).
pub fn hints(scopes: &[Scope], live: impl Fn(When) -> bool) -> Vec<(String, &'static str)> {
    scopes
        .iter()
        .flat_map(|s| bindings().filter(move |bd| bd.scope == *s))
        .filter(|bd| bd.hint && live(bd.when))
        .map(|bd| (bd.keys_label(), bd.help))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn earlier_scopes_win_and_conditions_apply() {
        let all = |_| true;
        let found = lookup(&[Scope::Filter, Scope::Global], &key(KeyCode::Esc), all).expect("esc");
        assert!(matches!(found.action, Action::FilterClear));
        let none = |w| w == When::Always;
        assert!(lookup(&[Scope::Dashboard], &key(KeyCode::Char('x')), none).is_none());
        assert!(lookup(&[Scope::Dashboard], &key(KeyCode::Char('x')), all).is_some());
    }

    #[test]
    fn shifted_letters_and_ctrl() {
        let big_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        let found = lookup(&[Scope::Volumes], &big_g, |_| true).expect("G");
        assert!(matches!(found.action, Action::Bottom));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert!(lookup(&[Scope::Volumes], &ctrl_c, |_| true).is_none());
        assert!(matches!(
            lookup(&[Scope::Volumes, Scope::Global], &ctrl_c, |_| true).map(|b| &b.action),
            Some(Action::Quit)
        ));
    }

    #[test]
    fn hints_come_from_the_table() {
        let h = hints(&[Scope::Volumes, Scope::Global], |_| true);
        assert_eq!(h.first(), Some(&("space".to_string(), "tick")));
        assert!(h.iter().any(|(k, w)| k == "?" && *w == "help"));
        assert!(!h.iter().any(|(_, w)| *w == "move up"), "movement stays in help");
    }

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        let all: Vec<_> = bindings().collect();
        for (i, a) in all.iter().enumerate() {
            for bb in &all[i + 1..] {
                if a.scope == bb.scope && a.when == bb.when {
                    for key in a.keys {
                        assert!(!bb.keys.contains(key), "{:?} {} bound twice", a.scope, key.label());
                    }
                }
            }
        }
    }
}

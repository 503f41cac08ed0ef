//! The `/` filter of a table: a tui-input line plus whether it is being
//! typed. Matching is a case-insensitive substring over a row's text.

use crossterm::event::{Event, KeyEvent};
use tui_input::backend::crossterm::EventHandler;
use tui_input::Input;

#[derive(Debug, Default, Clone)]
pub struct Filter {
    input: Input,
    /// Keys go to the input while this is set.
    pub editing: bool,
}

impl Filter {
    pub fn start(&mut self) {
        self.editing = true;
    }

    /// `enter`: stop typing, keep the filter.
    pub fn apply(&mut self) {
        self.editing = false;
    }

    /// `esc`: stop typing and clear.
    pub fn clear(&mut self) {
        self.editing = false;
        self.input.reset();
    }

    /// Feeds a key to the input; true when the text changed.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        self.input
            .handle_event(&Event::Key(key))
            .is_some_and(|changed| changed.value)
    }

    pub fn value(&self) -> &str {
        self.input.value()
    }

    pub fn cursor(&self) -> usize {
        self.input.visual_cursor()
    }

    pub fn is_active(&self) -> bool {
        self.editing || !self.input.value().is_empty()
    }

    /// True when every whitespace-separated word of the filter occurs in one of `fields`.
    pub fn matches<'a>(&self, fields: impl IntoIterator<Item = &'a str> + Clone) -> bool {
        let needle = self.input.value().to_lowercase();
        needle
            .split_whitespace()
            .all(|word| fields.clone().into_iter().any(|f| f.to_lowercase().contains(word)))
    }

    /// The filter line as shown under a table: `/text`, with a block
    /// cursor while typing.
    pub fn label(&self) -> Option<String> {
        if !self.is_active() {
            return None;
        }
        let value = self.input.value();
        if !self.editing {
            return Some(format!("/{value}"));
        }
        let at = value
            .char_indices()
            .nth(self.input.cursor())
            .map_or(value.len(), |(i, _)| i);
        Some(format!("/{}█{}", &value[..at], &value[at..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn typed(text: &str) -> Filter {
        let mut f = Filter::default();
        f.start();
        for c in text.chars() {
            f.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        f
    }

    #[test]
    fn typing_then_matching_words_in_any_field() {
        let f = typed("DATA 01");
        assert_eq!(f.value(), "DATA 01");
        assert!(f.matches(["data-01", "ceph"]));
        assert!(f.matches(["data", "id-01"]));
        assert!(!f.matches(["data-02", "ceph"]));
        assert_eq!(f.label().as_deref(), Some("/DATA 01█"));
    }

    #[test]
    fn esc_clears_and_empty_matches_everything() {
        let mut f = typed("x");
        f.clear();
        assert!(!f.is_active());
        assert!(f.matches(["anything"]));
        assert_eq!(f.label(), None);
    }
}

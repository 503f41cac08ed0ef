//! One checked item, ✔ or ✘ and what was seen (or what to fix): what
//! `check` prints, what pre-flight returns, and what the TUI's connect and
//! plan screens show. Every client reads the same type.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLine {
    pub ok: bool,
    pub text: String,
}

impl CheckLine {
    pub fn new(ok: bool, text: String) -> Self {
        Self { ok, text }
    }

    /// `✔` or `✘`.
    pub fn mark(&self) -> &'static str {
        if self.ok {
            "✔"
        } else {
            "✘"
        }
    }
}

/// What passed says what was seen; what failed says what to fix.
impl From<Result<String, String>> for CheckLine {
    fn from(r: Result<String, String>) -> Self {
        match r {
            Ok(text) => Self::new(true, text),
            Err(text) => Self::new(false, text),
        }
    }
}

impl std::fmt::Display for CheckLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.mark(), self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_its_mark_then_its_text() {
        assert_eq!(
            CheckLine::new(true, "pool reachable".into()).to_string(),
            "✔ pool reachable"
        );
        assert_eq!(CheckLine::from(Err("no pool".to_string())).to_string(), "✘ no pool");
    }
}

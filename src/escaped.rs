//! Text from the clouds (volume, project and server names, API error
//! messages) shown on a terminal or written as text: control characters are
//! written as escapes (`\n`, `\u{1b}`), so a name cannot fake a line of
//! output or send the terminal an escape sequence. JSON output stays exact.

use std::borrow::Cow;
use std::fmt;

/// Displays a string with its control characters (C0, DEL, C1, and the
/// bidirectional overrides that reorder what is shown) escaped.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Through `pad` so that width and alignment (`{:<20}`) still apply.
        f.pad(&escape(self.0))
    }
}

/// `s` with its control characters escaped; borrowed when there are none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// For a markdown table cell: escaped, and `|` (a column break) escaped too.
pub fn markdown_cell(s: &str) -> String {
    escape(s).replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVIL: &str = "evil\nfinished: 99 of 99 verified\u{1b}[31mRED\u{1b}[0m|pipe";

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert_eq!(
            Escaped(EVIL).to_string(),
            "evil\\nfinished: 99 of 99 verified\\u{1b}[31mRED\\u{1b}[0m|pipe"
        );
        assert_eq!(
            escape("tab\there\r\u{7f}\u{9b}\u{202e}"),
            "tab\\there\\r\\u{7f}\\u{9b}\\u{202e}"
        );
        assert!(matches!(escape("plain ü – name"), Cow::Borrowed("plain ü – name")));
        assert_eq!(format!("[{:<6}]", Escaped("a\nb")), "[a\\nb  ]", "padding applies");
        assert_eq!(
            markdown_cell(EVIL),
            "evil\\nfinished: 99 of 99 verified\\u{1b}[31mRED\\u{1b}[0m\\|pipe"
        );
    }
}

//! Finds where a field sits in a JSON text, so that errors found after parsing
//! (start ≥ end, an empty tape command) still point at a line and column.

enum Frame {
    Object { key: Option<String>, expect_key: bool },
    Array { index: usize },
}

fn path_of(stack: &[Frame]) -> Vec<String> {
    stack
        .iter()
        .map(|f| match f {
            Frame::Object { key, .. } => key.clone().unwrap_or_default(),
            Frame::Array { index } => index.to_string(),
        })
        .collect()
}

/// 1-based (line, column) of the value at `path` (e.g. `["usage", "end"]`),
/// or `None` when the text does not hold it. Tolerates nothing fancy: it is
/// only run on text that `serde_json` already accepted.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut stack: Vec<Frame> = Vec::new();
    let (mut line, mut col) = (1usize, 0usize);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        match c {
            '\n' => {
                line += 1;
                col = 0;
            }
            ',' => match stack.last_mut() {
                Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            '}' | ']' => {
                stack.pop();
            }
            c if c.is_whitespace() || c == ':' => {}
            _ => {
                if c == '"' {
                    if let Some(Frame::Object { key, expect_key }) = stack.last_mut() {
                        if *expect_key {
                            *key = Some(read_string(&mut chars, &mut col));
                            *expect_key = false;
                            continue;
                        }
                    }
                }
                if path_of(&stack).iter().map(String::as_str).eq(path.iter().copied()) {
                    return Some((line, col));
                }
                match c {
                    '{' => stack.push(Frame::Object {
                        key: None,
                        expect_key: true,
                    }),
                    '[' => stack.push(Frame::Array { index: 0 }),
                    '"' => {
                        read_string(&mut chars, &mut col);
                    }
                    _ => {
                        while let Some(&n) = chars.peek() {
                            if n == ',' || n == '}' || n == ']' || n.is_whitespace() {
                                break;
                            }
                            chars.next();
                            col += 1;
                        }
                    }
                }
            }
        }
    }
    None
}

fn read_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, col: &mut usize) -> String {
    let mut out = String::new();
    while let Some(c) = chars.next() {
        *col += 1;
        match c {
            '\\' => {
                if let Some(e) = chars.next() {
                    *col += 1;
                    out.push(e);
                }
            }
            '"' => break,
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "{\n  \"a\": {\"b\": [1, {\"c\": \"x\\\"y\"}]},\n  \"usage\": {\n    \"start\": \"2025\",\n    \"end\": \"2024\"\n  }\n}";

    #[test]
    fn finds_nested_fields_and_array_items() {
        assert_eq!(locate(DOC, &["usage", "end"]), Some((5, 12)));
        assert_eq!(locate(DOC, &["usage"]), Some((3, 12)));
        assert_eq!(locate(DOC, &["a", "b", "1", "c"]), Some((2, 24)));
        assert_eq!(locate(DOC, &["a", "b", "0"]), Some((2, 15)));
        assert_eq!(locate(DOC, &[]), Some((1, 1)));
    }

    #[test]
    fn missing_path_is_none() {
        assert_eq!(locate(DOC, &["usage", "middle"]), None);
        assert_eq!(locate(DOC, &["a", "b", "7"]), None);
    }
}

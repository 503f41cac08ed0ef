//! Reads `credentials.json` into a [`Config`]: syntax and type errors come from
//! serde with their position, semantic ones from `validate` with a position
//! found by the locator.

use super::{
    json_locator::locate,
    validate::{missing_files, validate},
    Config, ConfigError,
};
use std::path::Path;

impl Config {
    /// Loads and validates a credentials file. Returns the config and any
    /// warnings (such as loose file permissions) for the caller to print.
    pub fn from_json_file(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let config = Self::from_json_str(&text, path)?;
        let warnings = permission_warning(path).into_iter().collect();
        Ok((config, warnings))
    }

    /// `config validate`: [`Self::from_json_file`], and the files the config
    /// names exist here (a command checks those of the clouds it uses only,
    /// when it uses them).
    pub fn from_json_file_checked(path: &Path) -> Result<(Config, Vec<String>), ConfigError> {
        let (config, warnings) = Self::from_json_file(path)?;
        if let Some((field, message)) = missing_files(&config).into_iter().next() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let parts: Vec<&str> = field.split('.').collect();
            return Err(ConfigError::Invalid {
                file: path.to_path_buf(),
                position: locate(&text, &parts),
                field,
                message,
            });
        }
        Ok((config, warnings))
    }

    /// Parses `text` as if read from `file` (used in error messages).
    pub fn from_json_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
        check_top_level(text, file)?;
        let de = &mut serde_json::Deserializer::from_str(text);
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let inner = e.inner();
            // A syntax error leaves unknown (`?`) segments in the path.
            let mut field = e
                .path()
                .to_string()
                .split('.')
                .filter(|s| !s.is_empty() && *s != "?")
                .collect::<Vec<_>>()
                .join(".");
            let message = inner.to_string();
            // serde names a missing or unknown field in the message, not the path.
            let named = backticked(&message, "missing field `").or_else(|| backticked(&message, "unknown field `"));
            if let Some(name) = &named {
                if !field.ends_with(name.as_str()) {
                    field = join(&field, name);
                }
            }
            let message = strip_position(&message);
            // serde_json says column 0 at the end of a file ending in a newline:
            // that is the start of the line, column 1 for a person.
            let mut position = (inner.line() > 0).then(|| (inner.line(), inner.column().max(1)));
            if inner.classify() == serde_json::error::Category::Data && named.is_none() {
                if let Some(name) = auth_field_not_a_string(text, &field) {
                    field = join(&field, &name);
                    position = locate(text, &field.split('.').collect::<Vec<_>>()).or(position);
                }
            }
            ConfigError::Invalid {
                file: file.to_path_buf(),
                position,
                message: hint(inner.classify(), message),
                field,
            }
        })?;
        if let Some((path, message)) = validate(&config).into_iter().next() {
            let parts: Vec<&str> = path.split('.').collect();
            return Err(ConfigError::Invalid {
                file: file.to_path_buf(),
                position: locate(text, &parts),
                field: path,
                message,
            });
        }
        Ok(config)
    }
}

/// An empty file, or one whose top level is not an object, gets one plain
/// sentence: serde would say "EOF while parsing a value", or read an array as
/// Config's fields in order (`[0]: … expected struct CloudConfig`). A syntax
/// error is left to serde, which knows its position.
fn check_top_level(text: &str, file: &Path) -> Result<(), ConfigError> {
    let invalid = |position, message: String| ConfigError::Invalid {
        file: file.to_path_buf(),
        position: Some(position),
        field: String::new(),
        message,
    };
    if text.trim().is_empty() {
        return Err(invalid(
            (1, 1),
            "the file is empty; start from credentials.example.json".into(),
        ));
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Ok(());
    };
    let kind = match value {
        serde_json::Value::Object(_) => return Ok(()),
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Null => "null",
    };
    Err(invalid(
        locate(text, &[]).unwrap_or((1, 1)),
        format!("the top level must be an object ({{…}}), not {kind}; see credentials.example.json"),
    ))
}

/// A credentials file readable by group or others gets a warning: it holds
/// passwords. Returns `None` when the mode is fine or cannot be read.
pub fn permission_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "warning: {} is readable by group or others (mode {:o}) and holds secrets; run: chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

/// `auth` is read whole first (it is tagged by its `type`), so serde's path
/// of a wrong type inside it stops at `auth`, and its position at the end of
/// it: the key whose value is not a string is the one to name.
fn auth_field_not_a_string(text: &str, path: &str) -> Option<String> {
    if path != "auth" && !path.ends_with(".auth") {
        return None;
    }
    let root: serde_json::Value = serde_json::from_str(text).ok()?;
    let auth = path
        .split('.')
        .try_fold(&root, |node, key| node.get(key))?
        .as_object()?;
    auth.iter()
        .find(|(k, v)| !(v.is_string() || v.is_null() && k.as_str() == "user_domain_id"))
        .map(|(k, _)| k.clone())
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.split_once(prefix)?.1;
    Some(rest.split_once('`')?.0.to_string())
}

fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// serde_json appends " at line L column C"; we print the position up front.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn hint(class: serde_json::error::Category, message: String) -> String {
    use serde_json::error::Category;
    match class {
        Category::Syntax | Category::Eof => {
            format!("{message}; the file is not valid JSON, fix the syntax there")
        }
        Category::Data => {
            format!("{message}; see credentials.example.json for every key and its type")
        }
        Category::Io => message,
    }
}

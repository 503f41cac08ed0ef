//! Config errors name the file, the position and the field, then the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{}: cannot read: {source}; check the path and permissions", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A field is wrong. `position` is (line, column) when it could be found.
    #[error("{}", render_invalid(file, *position, field, message))]
    Invalid {
        file: PathBuf,
        position: Option<(usize, usize)>,
        field: String,
        message: String,
    },
    #[error("clouds.yaml: no file found (searched {searched}); create one or pass --config FILE")]
    NoCloudsYaml { searched: String },
    #[error("{}: cloud {name:?} not found; known clouds: {known}", file.display())]
    CloudNotFound { file: PathBuf, name: String, known: String },
    #[error("OS_* environment: {0}")]
    Env(String),
    /// Neither a credentials file nor both clouds named: what is missing.
    #[error("no config: {0}")]
    NoConfig(String),
}

fn render_invalid(file: &std::path::Path, position: Option<(usize, usize)>, field: &str, message: &str) -> String {
    let field = if field.is_empty() { "(top level)" } else { field };
    match position {
        Some((line, col)) => format!("{}:{line}:{col}: {field}: {message}", file.display()),
        None => format!("{}: {field}: {message}", file.display()),
    }
}

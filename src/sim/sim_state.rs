//! A simulated cloud's volumes kept between runs of the demo in one
//! `--work-dir`, so that a second run finds the clouds as the first left
//! them (the new volumes it created, their `stackmigrate.*` metadata) and
//! resumes as it would against real clouds. Written after every request
//! that may change them, privately and atomically; read at start.

use super::cloud_state::{CloudState, SimVolume};
use super::http::{lock, Shared};
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file that keeps cloud `name`'s volumes in `dir`.
pub fn state_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-cloud.json"))
}

/// Restores the volumes an earlier run kept in `file`; `false` when there
/// is none (a first run).
pub fn restore(s: &mut CloudState, file: &Path) -> std::io::Result<bool> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let volumes: BTreeMap<String, SimVolume> = serde_json::from_str(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: {e}; it is the simulated cloud's state from an earlier demo run: remove it to start afresh",
                file.display()
            ),
        )
    })?;
    s.volumes = volumes;
    Ok(true)
}

/// Writes the volumes to the cloud's state file, if it keeps one.
pub fn save(s: &CloudState) {
    let Some(file) = &s.state_file else {
        return;
    };
    let text = match serde_json::to_string_pretty(&s.volumes) {
        Ok(text) => text,
        Err(e) => return tracing::warn!("simulated cloud {}: state not kept: {e}", s.name),
    };
    if let Err((path, e)) = crate::storage::private_fs::write_atomic(file, &text) {
        tracing::warn!(
            "simulated cloud {}: cannot keep its state in {}: {e}",
            s.name,
            path.display()
        );
    }
}

/// Axum middleware: after a request that may change volumes, keep them.
pub async fn keep_after_changes(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let response = next.run(req).await;
    if changes {
        save(&lock(&state));
    }
    response
}

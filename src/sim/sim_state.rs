//! A simulated cloud's state kept between runs of the demo in one
//! `--work-dir`, so that a second run finds the clouds as the first left
//! them (the new volumes it created, their `stackmigrate.*` metadata, the
//! servers a maintenance window stopped) and resumes as it would against
//! real clouds. Written, privately and atomically, whenever a request (or
//! the maintenance window) has changed it; read at start.

use super::cloud_state::{CloudState, SimVolume};
use super::http::{lock, Shared};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What is kept: the volumes, and each server's status.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Kept {
    pub volumes: BTreeMap<String, SimVolume>,
    #[serde(default)]
    pub servers: BTreeMap<String, String>,
}

/// The file that keeps cloud `name`'s state in `dir`.
pub fn state_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}-cloud.json"))
}

/// What an earlier run kept in `file`; `None` when there is none (a first run).
pub fn read(file: &Path) -> std::io::Result<Option<Kept>> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: {e}; it is the simulated cloud's state from an earlier demo run: remove it to start afresh",
                file.display()
            ),
        )
    })
}

/// Puts the servers' kept status back (after they are seeded).
pub fn restore_servers(s: &mut CloudState, kept: &Kept) {
    for i in s.instances.iter_mut() {
        match kept.servers.get(&i.id).map(String::as_str) {
            Some("SHUTOFF") => i.status = "SHUTOFF",
            Some("ACTIVE") => i.status = "ACTIVE",
            _ => {}
        }
    }
}

/// Writes the cloud's state to its file, if it keeps one and it changed.
pub fn save(s: &mut CloudState) {
    let Some(file) = s.state_file.clone() else {
        return;
    };
    let kept = Kept {
        volumes: s.volumes.clone(),
        servers: s
            .instances
            .iter()
            .map(|i| (i.id.clone(), i.status.to_string()))
            .collect(),
    };
    let text = match serde_json::to_string_pretty(&kept) {
        Ok(text) => text,
        Err(e) => return tracing::warn!("simulated cloud {}: state not kept: {e}", s.name),
    };
    if s.saved.as_deref() == Some(text.as_str()) {
        return;
    }
    match crate::storage::private_fs::write_atomic(&file, &text) {
        Ok(()) => s.saved = Some(text),
        Err((path, e)) => tracing::warn!(
            "simulated cloud {}: cannot keep its state in {}: {e}",
            s.name,
            path.display()
        ),
    }
}

/// Axum middleware: after every request (a listing may settle a volume's
/// status too), the state is kept if it changed.
pub async fn keep_after_changes(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    save(&mut lock(&state));
    response
}

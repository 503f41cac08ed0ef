//! Phase 1's view of the old project: its volumes with their attachments
//! named. Every client lists volumes through here (`volumes`, `migrate`, the
//! TUI's projects and volumes screens), and all share one rule for which
//! statuses a migration may start from.

use crate::openstack::{Cinder, Nova, OpenStackError, Project, Session, Volume};
use serde::Serialize;
use std::collections::HashMap;

/// Volumes in these states can be exported safely.
pub const MIGRATABLE: &[&str] = &["available", "in-use"];

/// A volume with its attachments named, as `volumes --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeRow {
    #[serde(flatten)]
    pub volume: Volume,
    /// Names of the servers it is attached to (ids when Nova can't say).
    pub attached_to: Vec<String>,
}

/// A server a volume is attached to, as Nova reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachedServer {
    pub id: String,
    pub name: String,
    pub status: Option<String>,
}

impl AttachedServer {
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.status.as_deref().unwrap_or("status unknown"))
    }
}

impl VolumeRow {
    pub fn live_writer(&self) -> Option<AttachedServer> {
        (self.volume.status == "in-use").then(|| AttachedServer {
            id: "unknown".into(),
            name: self.attached_to.first().cloned().unwrap_or_else(|| "unknown server".into()),
            status: None,
        })
    }

    pub fn attachment_text(&self) -> String {
        if self.attached_to.is_empty() {
            "-".into()
        } else {
            self.attached_to.join(", ")
        }
    }

    /// Its status is one a migration may start from ([`MIGRATABLE`]).
    pub fn migratable(&self) -> bool {
        MIGRATABLE.contains(&self.volume.status.as_str())
    }
}

/// Lists a project's volumes: directly when the token is scoped to it,
/// admin-style when the user is an admin elsewhere, else by re-scoping.
pub async fn project_volumes(session: &Session, project: &Project) -> Result<Vec<VolumeRow>, OpenStackError> {
    let token = session.token().await?;
    let scoped;
    let (s, filter) = if token.project_id() == Some(project.id.as_str()) {
        (session, None)
    } else if token.is_admin() {
        (session, Some(project.id.as_str()))
    } else {
        scoped = session.rescoped(&project.id);
        (&scoped, None)
    };
    let volumes = Cinder::new(s).list_volumes(filter).await?;
    let servers: HashMap<String, String> = match Nova::new(s).list_servers(filter).await {
        Ok(list) => list.into_iter().map(|sv| (sv.id, sv.name)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot list servers; attachments shown by id");
            HashMap::new()
        }
    };
    Ok(volumes
        .into_iter()
        .map(|v| {
            let attached_to = v
                .attachments
                .iter()
                .filter_map(|a| a.server_id.as_ref())
                .map(|id| servers.get(id).cloned().unwrap_or_else(|| id.clone()))
                .collect();
            VolumeRow { volume: v, attached_to }
        })
        .collect())
}

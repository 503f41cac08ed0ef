//! `stackmigrate projects` and `stackmigrate volumes`: phase 1's inventory of
//! the old cloud, as a table or as JSON.

use crate::config::CloudConfig;
use crate::escaped::{escape, Escaped};
use crate::openstack::{Cinder, Keystone, Nova, OpenStackError, Project, Session, Volume};
use serde::Serialize;
use std::collections::HashMap;

pub async fn run_projects(cloud: &CloudConfig, json: bool) -> Result<String, OpenStackError> {
    let session = Session::new("old", cloud)?;
    let projects = Keystone::new(&session).list_projects().await?;
    if json {
        return serde_json::to_string_pretty(&projects).map_err(|e| OpenStackError::Config(e.to_string()));
    }
    let mut out = format!("{:<24} {:<34} {:<10} {}\n", "NAME", "ID", "DOMAIN", "ENABLED");
    for p in &projects {
        out.push_str(&format!(
            "{:<24} {:<34} {:<10} {}\n",
            Escaped(&p.name),
            p.id,
            p.domain_id.as_deref().unwrap_or("-"),
            p.enabled
        ));
    }
    Ok(out)
}

/// A volume with its attachments named, as `volumes --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeRow {
    #[serde(flatten)]
    pub volume: Volume,
    /// Names of the servers it is attached to (ids when Nova can't say).
    pub attached_to: Vec<String>,
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

pub async fn run_volumes(cloud: &CloudConfig, project: &str, json: bool) -> Result<String, OpenStackError> {
    let session = Session::new("old", cloud)?;
    let project = Keystone::new(&session).find_project(project).await?;
    let rows = project_volumes(&session, &project).await?;
    if json {
        return serde_json::to_string_pretty(&rows).map_err(|e| OpenStackError::Config(e.to_string()));
    }
    let mut out = format!(
        "{:<20} {:<8} {:>6} {:<12} {:<10} {:<16} {}\n",
        "NAME", "ID", "GiB", "TYPE", "STATUS", "ATTACHED TO", "BOOTABLE"
    );
    for r in &rows {
        let v = &r.volume;
        out.push_str(&format!(
            "{:<20} {:<8} {:>6} {:<12} {:<10} {:<16} {}\n",
            Escaped(v.display_name()),
            v.id.get(..8).unwrap_or(&v.id),
            v.size,
            Escaped(v.volume_type.as_deref().unwrap_or("-")),
            Escaped(&v.status),
            if r.attached_to.is_empty() {
                "-".to_string()
            } else {
                escape(&r.attached_to.join(",")).into_owned()
            },
            if v.bootable { "yes" } else { "no" }
        ));
    }
    Ok(out)
}

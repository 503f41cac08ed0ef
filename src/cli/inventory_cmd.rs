//! `stackmigrate projects` and `stackmigrate volumes`: phase 1's inventory of
//! the old cloud, as a table or as JSON.

use crate::config::CloudConfig;
use crate::engine::project_volumes;
use crate::escaped::Escaped;
use crate::openstack::{Keystone, OpenStackError, Session};

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

pub async fn run_volumes(cloud: &CloudConfig, project: &str, json: bool) -> Result<String, OpenStackError> {
    let session = Session::new("old", cloud)?;
    let project = Keystone::new(&session).find_project(project).await?;
    let rows = project_volumes(&session, &project).await?;
    if json {
        return serde_json::to_string_pretty(&rows).map_err(|e| OpenStackError::Config(e.to_string()));
    }
    // The attachments come last: they vary in length (servers, statuses).
    let mut out = format!(
        "{:<20} {:<8} {:>6} {:<12} {:<10} {:<8} {}\n",
        "NAME", "ID", "GiB", "TYPE", "STATUS", "BOOTABLE", "ATTACHED TO"
    );
    for r in &rows {
        let v = &r.volume;
        out.push_str(&format!(
            "{:<20} {:<8} {:>6} {:<12} {:<10} {:<8} {}\n",
            Escaped(v.display_name()),
            v.id.get(..8).unwrap_or(&v.id),
            v.size,
            Escaped(v.volume_type.as_deref().unwrap_or("-")),
            Escaped(&v.status),
            if v.bootable { "yes" } else { "no" },
            Escaped(&r.attachment_text()),
        ));
    }
    Ok(out)
}

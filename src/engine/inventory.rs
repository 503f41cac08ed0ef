//! `inventory.json`: the old project's volumes and servers exactly as the API
//! returned them, kept because the old cloud is about to disappear.

use crate::openstack::{Cinder, Nova, OpenStackError, Project, Session};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Writes `<project_dir>/inventory.json` and returns its path.
pub async fn write_inventory(
    session: &Session,
    project: &Project,
    project_dir: &Path,
) -> Result<PathBuf, OpenStackError> {
    let token = session.token().await?;
    let filter = (token.project_id() != Some(project.id.as_str())).then_some(project.id.as_str());
    let volumes = Cinder::new(session).list_volumes_raw(filter).await?;
    let nova = Nova::new(session);
    // `/servers/detail` needs Neutron behind Nova; keep what can be had.
    let (servers, servers_note) = match nova.list_servers_raw(filter).await {
        Ok(s) => (s, None),
        Err(detail_err) => match nova.list_servers(filter).await {
            Ok(s) => (
                s.into_iter().map(|s| json!(s)).collect(),
                Some(format!("details unavailable ({detail_err}); ids and names only")),
            ),
            Err(e) => (Vec::new(), Some(format!("servers unavailable: {e}"))),
        },
    };
    let doc = json!({
        "project": project,
        "captured_at": chrono::Utc::now().to_rfc3339(),
        "volumes": volumes,
        "servers": servers,
        "servers_note": servers_note,
    });
    let path = project_dir.join("inventory.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| OpenStackError::Config(e.to_string()))?;
    crate::storage::private_fs::write_atomic(&path, &text)
        .map_err(|(p, e)| OpenStackError::Config(format!("{}: {e}", p.display())))?;
    Ok(path)
}

//! `inventory.json`: the old project's volumes and servers exactly as the API
//! returned them, kept because the old cloud is about to disappear.

use super::volume_row::{project_listing, ProjectListing};
use crate::openstack::{OpenStackError, Project, Session};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Lists the project, then writes `<project_dir>/inventory.json` and returns its path.
pub async fn write_inventory(
    session: &Session,
    project: &Project,
    project_dir: &Path,
) -> Result<PathBuf, OpenStackError> {
    let listing = project_listing(session, project).await?;
    write_listing(project, &listing, project_dir)
}

/// Writes `<project_dir>/inventory.json` from a listing already made (the
/// one the plan was drawn from), and returns its path.
pub fn write_listing(
    project: &Project,
    listing: &ProjectListing,
    project_dir: &Path,
) -> Result<PathBuf, OpenStackError> {
    let doc = json!({
        "project": project,
        "captured_at": listing.captured_at,
        "volumes": listing.volumes,
        "servers": listing.servers,
        "servers_note": listing.servers_note,
    });
    let path = project_dir.join("inventory.json");
    let text = serde_json::to_string_pretty(&doc).map_err(|e| OpenStackError::Config(e.to_string()))?;
    crate::storage::private_fs::write_atomic(&path, &text)
        .map_err(|(p, e)| OpenStackError::Config(format!("{}: {e}", p.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::VolumeRow;

    #[test]
    fn the_listing_is_archived_as_the_apis_returned_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let raw = json!({"id": "v1", "name": "data", "size": 1, "status": "in-use", "x-extra": [1, 2]});
        let volume = serde_json::from_value(raw.clone()).expect("volume");
        let listing = ProjectListing {
            rows: vec![VolumeRow {
                volume,
                servers: Vec::new(),
            }],
            volumes: vec![raw.clone()],
            servers: vec![json!({"id": "s1", "name": "web"})],
            servers_note: Some("details unavailable".into()),
            captured_at: "2026-12-02T01:00:00+00:00".into(),
        };
        let project: Project = serde_json::from_value(json!({"id": "p1", "name": "research"})).expect("project");
        let path = write_listing(&project, &listing, dir.path()).expect("written");
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        assert_eq!(doc["volumes"], json!([raw]));
        assert_eq!(doc["servers"], json!([{"id": "s1", "name": "web"}]));
        assert_eq!(doc["servers_note"], "details unavailable");
        // When the answers came, not when the file was written.
        assert_eq!(doc["captured_at"], "2026-12-02T01:00:00+00:00");
        assert_eq!(doc["project"]["id"], "p1");
    }
}

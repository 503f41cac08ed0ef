//! Phase 1's view of the old project: its volumes with the servers they are
//! attached to, named and with Nova's status. Every client lists volumes
//! through here (`volumes`, `migrate`, the TUI's projects, volumes and plan
//! screens), and all share one rule for which statuses a migration may start
//! from and one for which attachments may still be writing.

use crate::openstack::{Cinder, Nova, OpenStackError, Project, Server, Session, Volume};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Volumes in these states can be exported safely.
pub const MIGRATABLE: &[&str] = &["available", "in-use"];

/// One line for each of `all` that `--volumes all` leaves out for its status
/// (error, maintenance, backing-up…): named, never passed over in silence.
pub fn left_out_for_status(all: &[Volume]) -> Vec<String> {
    all.iter()
        .filter(|v| !MIGRATABLE.contains(&v.status.as_str()))
        .map(|v| {
            format!(
                "volume {} ({}) is in status {:?} and is not migrated by this run; bring it to available or in-use, then migrate it with --volumes {}",
                crate::escaped::Escaped(v.display_name()),
                v.id,
                v.status,
                v.id
            )
        })
        .collect()
}

/// The servers `v` is attached to, in Cinder's order. An attachment that
/// names no server (a host's, say) is a writer nobody can stop from here: it
/// stays in the list as unknown, so the volume is never taken for a cold one.
fn attached_servers(v: &Volume, by_id: &HashMap<String, Server>) -> Vec<AttachedServer> {
    v.attachments
        .iter()
        .map(|a| match a.server_id.as_ref() {
            None => AttachedServer::unknown(),
            Some(id) => match by_id.get(id) {
                Some(sv) => AttachedServer::from(sv.clone()),
                None => AttachedServer {
                    id: id.clone(),
                    name: id.clone(),
                    status: None,
                },
            },
        })
        .collect()
}

/// A server a volume is attached to, as Nova reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachedServer {
    pub id: String,
    /// Nova's name; the id when Nova cannot say.
    pub name: String,
    /// Nova's status (ACTIVE, SHUTOFF, ...); None when Nova cannot say.
    pub status: Option<String>,
}

impl AttachedServer {
    /// Stands in for the server of an in-use volume whose attachments name none.
    fn unknown() -> Self {
        Self {
            id: "unknown".into(),
            name: "unknown server".into(),
            status: None,
        }
    }

    /// "name (STATUS)", or "name (status unknown)".
    pub fn describe(&self) -> String {
        format!("{} ({})", self.name, self.status.as_deref().unwrap_or("status unknown"))
    }

    /// Only SHUTOFF counts as stopped: anything else (unknown included) may still write.
    pub fn may_write(&self) -> bool {
        // PAUSED and SUSPENDED keep the guest's memory, dirty pages included,
        // and write them out on resume: not stopped.
        !self
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("SHUTOFF"))
    }
}

impl From<Server> for AttachedServer {
    fn from(s: Server) -> Self {
        Self {
            id: s.id,
            name: s.name,
            status: s.status,
        }
    }
}

/// A volume with the servers it is attached to, as `volumes --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeRow {
    #[serde(flatten)]
    pub volume: Volume,
    /// The servers it is attached to, in Cinder's order.
    #[serde(rename = "attached_to")]
    pub servers: Vec<AttachedServer>,
}

impl VolumeRow {
    /// Its status is one a migration may start from ([`MIGRATABLE`]).
    pub fn migratable(&self) -> bool {
        MIGRATABLE.contains(&self.volume.status.as_str())
    }

    /// The first attached server that may still be writing to the volume; a volume
    /// whose status is in-use but whose attachments name no server counts as written
    /// to by an unknown server (id "unknown", name "unknown server", status None).
    pub fn live_writer(&self) -> Option<AttachedServer> {
        if self.servers.is_empty() && self.volume.status == "in-use" {
            return Some(AttachedServer::unknown());
        }
        self.servers.iter().find(|s| s.may_write()).cloned()
    }

    /// What every client shows in its "attached" column: "-" when detached, else the
    /// servers' describe() joined by ", ".
    pub fn attachment_text(&self) -> String {
        if self.servers.is_empty() {
            // In-use with no server named is not detached: say so.
            return self.live_writer().map_or_else(|| "-".into(), |s| s.describe());
        }
        self.servers
            .iter()
            .map(AttachedServer::describe)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A project's volumes and servers as the APIs returned them (what
/// `inventory.json` keeps) and as rows for the plan: one listing serves both.
#[derive(Debug, Clone)]
pub struct ProjectListing {
    pub rows: Vec<VolumeRow>,
    pub volumes: Vec<Value>,
    pub servers: Vec<Value>,
    /// Why `servers` holds less than Nova's details, if it does.
    pub servers_note: Option<String>,
    /// When the answers came (RFC 3339).
    pub captured_at: String,
}

/// Lists a project's volumes: directly when the token is scoped to it,
/// admin-style when the user is an admin elsewhere, else by re-scoping.
pub async fn project_volumes(session: &Session, project: &Project) -> Result<Vec<VolumeRow>, OpenStackError> {
    Ok(project_listing(session, project).await?.rows)
}

/// As [`project_volumes`], keeping the raw answers too.
pub async fn project_listing(session: &Session, project: &Project) -> Result<ProjectListing, OpenStackError> {
    let scoped = session.scoped_to(&project.id).await?;
    let (s, filter) = match &scoped {
        Some(s) => (s, None),
        // An admin's token for another project lists this one's by filter.
        None if session.token().await?.project_id() != Some(project.id.as_str()) => {
            (session, Some(project.id.as_str()))
        }
        None => (session, None),
    };
    // Two services, asked at once.
    let (cinder, nova) = (Cinder::new(s), Nova::new(s));
    let (raw, (servers, servers_note)) = tokio::join!(cinder.list_volumes_raw(filter), raw_servers(&nova, filter));
    let raw = raw?;
    let by_id: HashMap<String, Server> = servers
        .iter()
        .filter_map(|v| Server::deserialize(v).ok())
        .map(|sv| (sv.id.clone(), sv))
        .collect();
    let rows = cinder
        .decode_volumes(&raw)?
        .into_iter()
        .filter(|v| v.of_project(&project.id))
        .map(|v| {
            let servers = attached_servers(&v, &by_id);
            VolumeRow { volume: v, servers }
        })
        .collect();
    Ok(ProjectListing {
        rows,
        volumes: raw,
        servers,
        servers_note,
        captured_at: chrono::Utc::now().to_rfc3339(),
    })
}

/// The project's servers with their status when Nova gives details; names
/// only when it does not (`/servers/detail` needs Neutron behind Nova); none
/// when Nova cannot list at all. A listing never fails for want of servers.
async fn raw_servers(nova: &Nova<'_>, filter: Option<&str>) -> (Vec<Value>, Option<String>) {
    match nova.list_servers_raw(filter).await {
        Ok(list) => (list, None),
        Err(detail) => match nova.list_servers_brief_raw(filter).await {
            Ok(list) => {
                tracing::warn!(error = %detail, "cannot list servers with details; server statuses unknown");
                (
                    list,
                    Some(format!("details unavailable ({detail}); ids and names only")),
                )
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot list servers; attachments shown by id");
                (Vec::new(), Some(format!("servers unavailable: {e}")))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str, status: Option<&str>) -> AttachedServer {
        AttachedServer {
            id: format!("id-{name}"),
            name: name.into(),
            status: status.map(str::to_string),
        }
    }

    fn row(status: &str, servers: Vec<AttachedServer>) -> VolumeRow {
        let volume: Volume = serde_json::from_value(serde_json::json!({
            "id": "v1", "name": "data", "size": 1, "status": status
        }))
        .expect("volume");
        VolumeRow { volume, servers }
    }

    #[test]
    fn describe_names_the_server_and_its_status() {
        assert_eq!(server("web-1", Some("ACTIVE")).describe(), "web-1 (ACTIVE)");
        assert_eq!(server("web-1", None).describe(), "web-1 (status unknown)");
    }

    #[test]
    fn only_shutoff_counts_as_stopped() {
        assert!(!server("a", Some("SHUTOFF")).may_write());
        for status in [Some("ACTIVE"), Some("PAUSED"), Some("SUSPENDED"), Some("ERROR"), None] {
            assert!(server("a", status).may_write(), "{status:?}");
        }
    }

    #[test]
    fn live_writer_is_the_first_server_that_may_write() {
        let r = row(
            "in-use",
            vec![
                server("db-1", Some("SHUTOFF")),
                server("web-1", Some("ACTIVE")),
                server("x", None),
            ],
        );
        assert_eq!(r.live_writer(), Some(server("web-1", Some("ACTIVE"))));
        assert_eq!(row("in-use", vec![server("db-1", Some("SHUTOFF"))]).live_writer(), None);
        assert_eq!(
            row("in-use", vec![server("x", None)]).live_writer(),
            Some(server("x", None))
        );
        assert_eq!(row("available", vec![]).live_writer(), None);
    }

    #[test]
    fn in_use_without_a_named_server_has_an_unknown_writer() {
        let r = row("in-use", vec![]);
        let w = r.live_writer().expect("writer");
        assert_eq!(
            (w.id.as_str(), w.name.as_str(), w.status),
            ("unknown", "unknown server", None)
        );
        assert_eq!(r.attachment_text(), "unknown server (status unknown)");
    }

    #[test]
    fn attachment_text_is_a_dash_or_the_servers_described() {
        assert_eq!(row("available", vec![]).attachment_text(), "-");
        let r = row(
            "in-use",
            vec![server("db-1", Some("SHUTOFF")), server("web-1", Some("ACTIVE"))],
        );
        assert_eq!(r.attachment_text(), "db-1 (SHUTOFF), web-1 (ACTIVE)");
    }

    #[test]
    fn json_names_the_servers_with_their_status_under_attached_to() {
        let r = row("in-use", vec![server("web-1", Some("ACTIVE"))]);
        let v = serde_json::to_value(&r).expect("json");
        assert_eq!(
            v["attached_to"],
            serde_json::json!([{"id": "id-web-1", "name": "web-1", "status": "ACTIVE"}])
        );
        assert_eq!(v["status"], "in-use");
        assert!(v.get("servers").is_none());
    }

    #[test]
    fn volumes_left_out_for_their_status_are_named() {
        let vol = |id: &str, status: &str| -> Volume {
            serde_json::from_value(serde_json::json!({"id": id, "size": 1, "status": status})).expect("volume")
        };
        let lines = left_out_for_status(&[vol("a", "available"), vol("b", "error"), vol("c", "in-use")]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains("(b) is in status \"error\"") && lines[0].contains("--volumes b"),
            "{lines:?}"
        );
    }

    /// An admin's listing: the copy Cinder makes while it migrates a volume,
    /// and another project's volume (a filter not applied), are not planned.
    #[test]
    fn a_migration_target_and_another_projects_volume_are_not_the_projects() {
        let vol = |v: serde_json::Value| -> Volume { serde_json::from_value(v).expect("volume") };
        let own = vol(serde_json::json!({"id": "a", "size": 1, "status": "available",
            "os-vol-tenant-attr:tenant_id": "p", "migration_status": "success"}));
        assert!(own.of_project("p"));
        let target = vol(serde_json::json!({"id": "b", "size": 1, "status": "available",
            "os-vol-tenant-attr:tenant_id": "p", "migration_status": "target:a"}));
        assert!(!target.of_project("p"));
        let theirs = vol(serde_json::json!({"id": "c", "size": 1, "status": "available",
            "os-vol-tenant-attr:tenant_id": "q"}));
        assert!(!theirs.of_project("p"));
        let member = vol(serde_json::json!({"id": "d", "size": 1, "status": "available"}));
        assert!(member.of_project("p"), "a member's listing names no tenant");
    }

    /// A multiattach volume on a stopped server and a host: the host's
    /// attachment names no server, and still makes the volume written to.
    #[test]
    fn an_attachment_with_no_server_counts_as_a_live_writer() {
        let v: Volume = serde_json::from_value(serde_json::json!({
            "id": "v", "size": 1, "status": "in-use",
            "attachments": [{"server_id": "s1"}, {"server_id": null, "host_name": "h"}]
        }))
        .expect("volume");
        let stopped: Server =
            serde_json::from_value(serde_json::json!({"id": "s1", "name": "db", "status": "SHUTOFF"})).expect("server");
        let by_id = HashMap::from([("s1".to_string(), stopped)]);
        let row = VolumeRow {
            servers: attached_servers(&v, &by_id),
            volume: v,
        };
        assert_eq!(row.servers.len(), 2);
        assert_eq!(row.live_writer().map(|s| s.id), Some("unknown".to_string()));
    }
}

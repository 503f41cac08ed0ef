//! The demo's attached volumes as `volumes` and the library list them: each
//! server named with its Nova status, and which of them may still write;
//! a Nova that cannot show details, and a member held to its own project.

use stackmigrate::config::{AuthMethod, Secret};
use stackmigrate::openstack::{Cinder, Keystone, NewVolume, OpenStackError, Session};

#[tokio::test]
async fn volumes_names_each_server_with_its_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let table = stackmigrate::cli::run_volumes(&sim.config.old_cloud, "research", false)
        .await
        .expect("table");
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} listed:\n{table}"))
            .to_string()
    };
    assert!(line("web-root").ends_with("web-1 (ACTIVE)"), "{table}");
    assert!(line("ml-datasets").ends_with("gpu-1 (SHUTOFF)"), "{table}");
    assert!(line("scratch").ends_with(" -"), "{table}");

    let json = stackmigrate::cli::run_volumes(&sim.config.old_cloud, "research", true)
        .await
        .expect("json");
    let rows: serde_json::Value = serde_json::from_str(&json).expect("json");
    let attached = |name: &str| {
        rows.as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["attached_to"].clone())
            .expect("row")
    };
    let web = attached("web-root");
    assert_eq!(
        (&web[0]["name"], &web[0]["status"]),
        (&"web-1".into(), &"ACTIVE".into())
    );
    assert!(web[0]["id"].is_string(), "{web}");
    assert_eq!(attached("ml-datasets")[0]["status"], "SHUTOFF");
    assert_eq!(attached("scratch"), serde_json::json!([]));
}

#[tokio::test]
async fn only_volumes_of_running_servers_have_a_live_writer() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let old = Session::new("old", &sim.config.old_cloud).expect("session");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    let rows = stackmigrate::engine::project_volumes(&old, &project)
        .await
        .expect("volumes");
    let writer = |name: &str| {
        rows.iter()
            .find(|r| r.volume.name.as_deref() == Some(name))
            .expect("row")
            .live_writer()
            .map(|w| w.describe())
    };
    assert_eq!(writer("db-data").as_deref(), Some("db-1 (ACTIVE)"));
    assert_eq!(writer("logs").as_deref(), Some("web-1 (ACTIVE)"));
    assert_eq!(writer("ml-datasets"), None, "gpu-1 is shut off");
    assert_eq!(writer("scratch"), None, "detached");
}

/// A Nova that cannot show servers in detail (no Neutron behind it): the
/// listing names the servers from `/servers`, says their status is unknown
/// and why, and counts every attached volume as one a server may write.
#[tokio::test]
async fn without_server_details_servers_are_named_and_may_write() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    sim.change_old_faults(|f| f.no_server_details = true);
    let old = Session::new("old", &sim.config.old_cloud).expect("session");
    let project = Keystone::new(&old).find_project("research").await.expect("project");
    let listing = stackmigrate::engine::project_listing(&old, &project)
        .await
        .expect("listing");
    let note = listing.servers_note.clone().unwrap_or_default();
    assert!(
        note.starts_with("details unavailable") && note.contains("HTTP 500"),
        "{note}"
    );
    let row = |name: &str| {
        listing
            .rows
            .iter()
            .find(|r| r.volume.name.as_deref() == Some(name))
            .expect("row")
    };
    assert_eq!(row("ml-datasets").attachment_text(), "gpu-1 (status unknown)");
    assert_eq!(
        row("ml-datasets").live_writer().map(|w| w.describe()).as_deref(),
        Some("gpu-1 (status unknown)"),
        "a stopped server Nova cannot vouch for may write"
    );
    assert_eq!(row("scratch").live_writer().map(|w| w.describe()), None);
}

/// Cinder answers 404 to a member who names another project's volume by id
/// (show, metadata, delete); an admin reaches it from any project.
#[tokio::test]
async fn a_member_cannot_reach_another_projects_volume() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let mut in_admin = sim.config.old_cloud.clone();
    in_admin.project_name = Some("admin".into());
    let admin_there = Session::new("old", &in_admin).expect("session");
    let theirs = Cinder::new(&admin_there)
        .create_volume(&NewVolume {
            size: 1,
            name: Some("not research's".into()),
            ..Default::default()
        })
        .await
        .expect("create");
    let mut as_member = sim.config.old_cloud.clone();
    if let AuthMethod::Password { username, password, .. } = &mut as_member.auth {
        *username = "operator".into();
        *password = Secret::new("operatorpass");
    }
    let member = Session::new("old", &as_member).expect("session");
    let c = Cinder::new(&member);
    let status = |r: Result<(), OpenStackError>| r.err().and_then(|e| e.api().map(|a| a.status));
    assert_eq!(status(c.get_volume(&theirs.id).await.map(drop)), Some(404));
    let meta = [("k".to_string(), "v".to_string())].into();
    assert_eq!(status(c.set_metadata(&theirs.id, &meta).await), Some(404));
    assert_eq!(status(c.delete_volume(&theirs.id).await), Some(404));
    let admin = Session::new("old", &sim.config.old_cloud).expect("session");
    let seen = Cinder::new(&admin)
        .get_volume(&theirs.id)
        .await
        .expect("an admin reaches it");
    assert_eq!(seen.name.as_deref(), Some("not research's"));
}

/// Cinder keeps an attached volume: a DELETE is refused (400) and the
/// volume stays, while an unattached one goes. The refusal's words are
/// compared with the real Cinder's in tests/openstack/sim_shape.rs.
#[tokio::test]
async fn an_attached_volume_is_not_deleted() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let s = Session::new("old", &sim.config.old_cloud).expect("session");
    let c = Cinder::new(&s);
    let project = Keystone::new(&s).find_project("research").await.expect("project");
    let volumes = c.list_volumes(Some(&project.id)).await.expect("volumes");
    let named = |name: &str| volumes.iter().find(|v| v.name.as_deref() == Some(name)).expect(name);
    let (web, scratch) = (named("web-root"), named("scratch"));
    assert!(!web.attachments.is_empty() && scratch.attachments.is_empty());
    let e = c.delete_volume(&web.id).await.expect_err("an attached volume is kept");
    let api = e.api().expect("an API error");
    assert_eq!((api.status, api.kind.as_deref()), (400, Some("badRequest")));
    assert!(
        api.message.contains("must not be migrating, attached"),
        "{}",
        api.message
    );
    assert_eq!(c.get_volume(&web.id).await.expect("still there").status, "in-use");
    c.delete_volume(&scratch.id).await.expect("a detached volume goes");
    let status = |r: Result<(), OpenStackError>| r.err().and_then(|e| e.api().map(|a| a.status));
    assert_eq!(status(c.get_volume(&scratch.id).await.map(drop)), Some(404));
}

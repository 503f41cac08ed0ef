//! The background work behind each `Effect`: plain async functions that
//! return what the screens show. The executor runs them off the UI loop.

use super::screens::{CheckKind, ProjectEntry, ReportRow, TargetInfo, VolumeEntry};
use crate::check_line::CheckLine;
use crate::config::{CloudConfig, Config};
use crate::engine::{project_volumes, Journal, PreflightProgress, RunSetup, Running, SyncPlan};
use crate::openstack::{Cinder, Keystone, Project, Service, Session, Volume};
use crate::storage::{free_bytes, is_writable, BlockStore};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

async fn auth(name: &str, cloud: &CloudConfig, session: Option<&Session>) -> Result<String, String> {
    let owned;
    let session = match session {
        Some(s) => s,
        None => {
            owned = Session::new(name, cloud).map_err(|e| e.to_string())?;
            &owned
        }
    };
    let token = session.token().await.map_err(|e| e.to_string())?;
    let cinder = session
        .endpoint(Service::BlockStorage)
        .await
        .map_err(|e| e.to_string())?;
    let project = token.project.as_ref().map_or("(unscoped)".to_string(), |p| {
        p.name.clone().unwrap_or_else(|| p.id.clone())
    });
    let cinder = reqwest::Url::parse(&cinder)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
        })
        .unwrap_or(cinder);
    Ok(format!(
        "{} → {project} ({}) · cinder {cinder}",
        token.user.name.as_deref().unwrap_or(&token.user.id),
        token.roles.join(",")
    ))
}

async fn store(name: &str, cloud: &CloudConfig) -> Result<String, String> {
    let store = BlockStore::for_cloud(cloud)
        .ok_or_else(|| format!("no ceph or files section: add {name}_cloud.ceph {{conf, id, keyring, pool}}"))?;
    let images = store.ls().await.map_err(|e| e.to_string())?;
    Ok(format!("pool {} reachable, {} images", store.pool(), images.len()))
}

/// The nearest existing directory at or above `dir`, for free-space checks
/// before the directory is created.
fn existing(dir: &Path) -> &Path {
    dir.ancestors().find(|d| d.exists()).unwrap_or(dir)
}

fn directory(dir: &Path) -> Result<String, String> {
    is_writable(dir).map_err(|e| format!("{}: {e}; create it or fix its permissions", dir.display()))?;
    let free = free_bytes(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(format!(
        "{} writable, {} free",
        dir.display(),
        super::format::bytes(free)
    ))
}

/// One line of the connect screen.
pub async fn check(kind: CheckKind, cfg: &Config, old: Option<&Session>) -> Result<String, String> {
    match kind {
        CheckKind::OldAuth => auth("old", &cfg.old_cloud, old).await,
        CheckKind::NewAuth => auth("new", &cfg.new_cloud, None).await,
        CheckKind::OldStore => store("old", &cfg.old_cloud).await,
        CheckKind::NewStore => store("new", &cfg.new_cloud).await,
        CheckKind::WorkDir => directory(&cfg.work_dir),
        CheckKind::ExportDir => match &cfg.export_dir {
            Some(dir) => directory(dir),
            None => Ok("none (export_dir is null): exports stream straight into the new cluster".into()),
        },
    }
}

/// An earlier run's journal for `project` with a volume it did not finish.
fn resumable(cfg: &Config, project: &Project) -> bool {
    let path = cfg.work_dir.join(&project.id).join("journal.jsonl");
    path.exists() && Journal::read(&path).is_ok_and(|rs| rs.iter().any(|r| r.phase != crate::engine::Phase::Cleaned))
}

pub async fn projects(old: &Session, cfg: &Config) -> Result<Vec<ProjectEntry>, String> {
    let list = Keystone::new(old).list_projects().await.map_err(|e| e.to_string())?;
    // The token is the one the connect checks fetched: no second request.
    let scoped = old
        .token()
        .await
        .ok()
        .and_then(|t| t.project.as_ref().map(|p| p.id.clone()));
    Ok(list
        .into_iter()
        .map(|project| ProjectEntry {
            resumable: resumable(cfg, &project),
            scoped: scoped.as_deref() == Some(project.id.as_str()),
            project,
        })
        .collect())
}

pub async fn project_stats(old: &Session, project: &Project) -> Result<(usize, u64), String> {
    let rows = project_volumes(old, project).await.map_err(|e| e.to_string())?;
    Ok((rows.len(), rows.iter().map(|r| r.volume.size).sum()))
}

pub async fn volumes(old: &Session, cfg: &Config, project: &Project) -> Result<Vec<VolumeEntry>, String> {
    let rows = project_volumes(old, project).await.map_err(|e| e.to_string())?;
    // What an earlier run learnt: its phase, and the data size its export measured.
    let path = cfg.work_dir.join(&project.id).join("journal.jsonl");
    let known: HashMap<String, (crate::engine::Phase, Option<u64>)> = if path.exists() {
        Journal::read(&path)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|r| (r.id.clone(), (r.phase, r.export.as_ref().map(|e| e.data_bytes))))
            .collect()
    } else {
        HashMap::new()
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let k = known.get(&row.volume.id);
            VolumeEntry {
                used: k.and_then(|k| k.1),
                previous: k.map(|k| k.0),
                row,
            }
        })
        .collect())
}

pub async fn target(cfg: &Config) -> TargetInfo {
    let quota = async {
        let new = Session::new("new", &cfg.new_cloud).map_err(|e| e.to_string())?;
        let token = new.token().await.map_err(|e| e.to_string())?;
        let project = token
            .project_id()
            .ok_or("the new cloud's token has no project; set new_cloud.project_name")?
            .to_string();
        Cinder::new(&new).quota_usage(&project).await.map_err(|e| e.to_string())
    }
    .await;
    let export_free = match &cfg.export_dir {
        Some(dir) => {
            let dir = existing(dir);
            free_bytes(dir).map_err(|e| format!("{}: {e}", dir.display()))
        }
        None => Err("no export file (export_dir is null)".into()),
    };
    TargetInfo { quota, export_free }
}

/// Inventory archive and pre-flight, exactly as `migrate` does them; and the
/// volumes whose copy the project's journal has begun.
pub async fn prepare(
    cfg: &Config,
    old: Arc<Session>,
    project: Project,
    volumes: &[Volume],
    cancel: &CancellationToken,
    progress: UnboundedSender<PreflightProgress>,
) -> (Vec<CheckLine>, Result<String, String>, Vec<String>) {
    let fail = |text: String| {
        let lines = vec![CheckLine::new(false, text)];
        (lines, Err("not written".to_string()), Vec::new())
    };
    let new = match Session::new("new", &cfg.new_cloud) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let setup = match RunSetup::new(cfg, old, new, project, None) {
        Ok(s) => s,
        Err(e) => return fail(e.to_string()),
    };
    let inventory = setup
        .inventory()
        .await
        .map(|p| p.display().to_string())
        .map_err(|e| e.to_string());
    let lines = setup.preflight(cfg, volumes, cancel, Some(progress)).await;
    (lines, inventory, setup.begun_by_journal())
}

/// Starts the engine; `sync` says which volumes are warm-synced (a running
/// server writes to them) and keeps them syncing until they are cut over.
pub async fn start(
    cfg: &Config,
    old: Arc<Session>,
    project: Project,
    volumes: Vec<Volume>,
    sync: SyncPlan,
) -> Result<Running, String> {
    let new = Session::new("new", &cfg.new_cloud).map_err(|e| e.to_string())?;
    let setup = RunSetup::new(cfg, old, new, project, None).map_err(|e| e.to_string())?;
    // The TUI keeps the engine alive after every volume settled, so r can retry.
    let opts = crate::engine::RunOptions {
        stay_alive: true,
        sync,
        ..Default::default()
    };
    setup.start(cfg, volumes, opts).await.map_err(|e| e.to_string())
}

pub fn report(path: &Path) -> Result<Vec<ReportRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_value(doc["volumes"].take()).map_err(|e| format!("{}: {e}", path.display()))
}

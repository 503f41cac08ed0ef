//! `stackmigrate cleanup --project`: phase 5 run on its own, over the
//! project's journal.

use super::migrate_cmd::{cancel_on_ctrl_c, fatal, Fatal};
use crate::config::Config;
use crate::exit_codes;
use crate::openstack::{Keystone, Session};
use crate::storage::BlockStore;

/// `stackmigrate cleanup --project`: phase 5 over the project's journal.
pub async fn run_cleanup_cmd(cfg: &Config, project: &str) -> Result<i32, Fatal> {
    let old = Session::new("old", &cfg.old_cloud).map_err(fatal)?;
    let project = Keystone::new(&old).find_project(project).await.map_err(fatal)?;
    let path = cfg.work_dir.join(&project.id).join("journal.jsonl");
    if !path.exists() {
        return Err(Fatal(format!(
            "no journal at {}: nothing was migrated for project {} yet",
            path.display(),
            project.name
        )));
    }
    let (Some(old_store), Some(new_store)) = (
        BlockStore::for_cloud(&cfg.old_cloud),
        BlockStore::for_cloud(&cfg.new_cloud),
    ) else {
        return Err(Fatal(
            "both clouds need a ceph section (conf, id, keyring, pool) or a files section".into(),
        ));
    };
    let mut journal = crate::engine::Journal::open(&path).map_err(fatal)?;
    // Not under a run of another work dir: it may be using a staging image named here.
    let ids: Vec<String> = journal.records().map(|r| r.id.clone()).collect();
    let dir = path.parent().unwrap_or(&cfg.work_dir);
    let _locks =
        crate::engine::VolumeLocks::take(&cfg.old_cloud, ids.iter().map(String::as_str), dir).map_err(fatal)?;
    let cancel = cancel_on_ctrl_c();
    let actions = crate::engine::run_cleanup(&mut journal, &old_store, &new_store, &cancel)
        .await
        .map_err(fatal)?;
    for a in &actions {
        tracing::info!("cleanup: {a}");
        println!("{a}");
    }
    let kept = actions.iter().filter(|a| a.contains(" kept: ")).count();
    Ok(if kept == 0 {
        exit_codes::OK
    } else {
        exit_codes::ATTENTION
    })
}

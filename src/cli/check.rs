//! `stackmigrate check`: everything a migration needs, tried for real, one
//! line per item. Runs the two clouds' checks concurrently.

use crate::check_line::CheckLine;
use crate::config::{CloudConfig, Config};
use crate::openstack::{Service, Session};
use crate::storage::{free_bytes, is_writable, BlockStore};

/// Runs every check; the command exits 0 only if all lines are ✔.
pub async fn run_check(cfg: &Config) -> Vec<CheckLine> {
    let (old, new) = tokio::join!(
        check_cloud("old", &cfg.old_cloud, true),
        check_cloud("new", &cfg.new_cloud, false)
    );
    let mut lines = old;
    lines.extend(new);
    if cfg.export_dir.is_none() {
        lines.push(CheckLine::new(
            true,
            "no export dir (export_dir is null): exports stream straight into the new cluster".into(),
        ));
    }
    let dirs = [
        ("work dir", Some(&cfg.work_dir)),
        ("export dir", cfg.export_dir.as_ref()),
    ];
    for (label, dir) in dirs.into_iter().filter_map(|(l, d)| Some((l, d?))) {
        lines.push(match is_writable(dir).and_then(|_| free_bytes(dir)) {
            Ok(free) => CheckLine::new(
                true,
                format!(
                    "{label} {} is writable, {} free",
                    dir.display(),
                    crate::units::bytes(free)
                ),
            ),
            Err(e) => CheckLine::new(
                false,
                format!("{label} {}: {e}; create it or fix its permissions", dir.display()),
            ),
        });
    }
    lines
}

async fn check_cloud(name: &str, cloud: &CloudConfig, needs_compute: bool) -> Vec<CheckLine> {
    let mut lines = Vec::new();
    match Session::new(name, cloud) {
        Err(e) => lines.push(CheckLine::new(false, e.to_string())),
        Ok(session) => match session.token().await {
            Err(e) => lines.push(CheckLine::new(false, e.to_string())),
            Ok(token) => {
                let project = token
                    .project
                    .as_ref()
                    .map(|p| format!("{} ({})", p.name.as_deref().unwrap_or("?"), p.id))
                    .unwrap_or_else(|| "(unscoped)".into());
                lines.push(CheckLine::new(
                    true,
                    format!(
                        "{name} cloud: Keystone {} authenticated as {}, project {project}, roles {}",
                        session.auth_url(),
                        token.user.name.as_deref().unwrap_or(&token.user.id),
                        token.roles.join(",")
                    ),
                ));
                let mut services = vec![Service::BlockStorage];
                if needs_compute {
                    services.push(Service::Compute);
                }
                for s in services {
                    lines.push(match session.endpoint(s).await {
                        Ok(url) => CheckLine::new(true, format!("{name} cloud: {} endpoint {url}", s.name())),
                        Err(e) => CheckLine::new(false, e.to_string()),
                    });
                }
            }
        },
    }
    lines.push(match (&cloud.ceph, BlockStore::for_cloud(cloud)) {
        (Some(ceph), Some(store)) => match store.ls().await {
            Ok(images) => CheckLine::new(
                true,
                format!(
                    "{name} cloud: rbd ls {} via {} as client.{}: {} images",
                    ceph.pool,
                    ceph.conf.display(),
                    ceph.id,
                    images.len()
                ),
            ),
            Err(e) => CheckLine::new(false, format!("{name} cloud: {e}")),
        },
        (None, Some(store)) => match store.ls().await {
            Ok(images) => CheckLine::new(
                true,
                format!(
                    "{name} cloud: volume files in {}: {} images",
                    store.pool(),
                    images.len()
                ),
            ),
            Err(e) => CheckLine::new(false, format!("{name} cloud: {e}")),
        },
        (_, None) => CheckLine::new(
            false,
            format!(
                "{name} cloud: no ceph section; add {name}_cloud.ceph {{conf, id, keyring, pool}} (or files {{dir}})"
            ),
        ),
    });
    lines
}

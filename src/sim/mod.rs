//! Simulated clouds for `stackmigrate demo` and fault-injection tests: an
//! "old" and a "new" cloud, each a Keystone + Cinder (+ Nova for the old one)
//! served by axum on 127.0.0.1 with an ephemeral port, over directories of
//! raw volume files. Never used against real clouds.

mod cinder_api;
mod cinder_create;
mod cloud_state;
mod demo_seed;
mod faults;
mod http;
mod keystone_api;
mod live_servers;
mod microversion;
mod nova_api;
mod sim_state;

pub use cloud_state::{CloudState, SimProject};
pub use faults::Faults;
pub use http::Shared;

use crate::config::{
    AuthMethod, CloudConfig, Concurrency, Config, FilesConfig, ImportStrategy, Interface, Secret, TapeConfig,
    UsagePeriod,
};
use chrono::{Datelike, NaiveDate};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub struct SimOptions {
    pub dir: PathBuf,
    pub faults: Faults,
    /// MiB/s for every data copy; `None` is full speed.
    pub throttle_mib_s: Option<u64>,
    /// ACTIVE servers keep writing to their volumes (the demo's warm sync).
    pub live_servers: bool,
    /// With `live_servers`: the servers stop by themselves this long after
    /// the migration started (a maintenance window).
    pub maintenance_after: Option<Duration>,
    /// MiB/s per copy out of the old pool (exports) and into or out of the
    /// new one (imports, read-backs), instead of `throttle_mib_s` (the
    /// pipeline bench's throttled stores).
    pub export_mib_s: Option<u64>,
    pub import_mib_s: Option<u64>,
    /// Every API answer waits this long first (a real cloud's latency).
    pub api_delay: Option<Duration>,
    /// The clouds' volumes are kept in `dir` and found there by the next
    /// start (the demo with `--work-dir`, which can then resume).
    pub keep_state: bool,
}

/// Two running simulated clouds and a config that points at them.
pub struct SimClouds {
    pub old: Shared,
    pub new: Shared,
    pub config: Config,
    /// What the simulated operator did (the maintenance window), one line each.
    pub notes: Option<mpsc::UnboundedReceiver<String>>,
    stop: CancellationToken,
    /// A kept directory's `sim.lock`, held while these clouds run: a second
    /// demo there would overwrite their state.
    _kept: Option<std::fs::File>,
}

impl Drop for SimClouds {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn serve(
    state: Shared,
    listener: tokio::net::TcpListener,
    compute: bool,
    delay: Option<Duration>,
    stop: CancellationToken,
) {
    // Each service refuses a microversion outside its range, as the real one does.
    let versions =
        |range| axum::middleware::from_fn_with_state((state.clone(), range), microversion::refuse_unsupported);
    let mut router = axum::Router::new()
        .merge(keystone_api::routes())
        .merge(cinder_api::routes().layer(versions(microversion::VOLUME)));
    if compute {
        router = router.merge(nova_api::routes().layer(versions(microversion::COMPUTE)));
    }
    // Only a kept cloud pays for the check after each request.
    if http::lock(&state).state_file.is_some() {
        router = router.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            sim_state::keep_after_changes,
        ));
    }
    if let Some(delay) = delay {
        router = router.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                tokio::time::sleep(delay).await;
                next.run(req).await
            },
        ));
    }
    let app = router.with_state(state);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::error!("simulated cloud stopped: {e}");
    }
}

/// Locks a directory that keeps simulated clouds: refused while another
/// process runs clouds from it.
fn lock_kept_dir(dir: &Path) -> std::io::Result<std::fs::File> {
    crate::storage::private_fs::open_locked(&dir.join("sim.lock"))?.ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            "another stackmigrate demo is running from this directory (it holds sim.lock); let it end, or give this one another --work-dir",
        )
    })
}

fn cloud_config(
    base: &str,
    user: &str,
    password: &str,
    pool: &Path,
    throttle: Option<u64>,
    fail: Vec<String>,
) -> CloudConfig {
    CloudConfig {
        auth_url: format!("{base}/v3"),
        auth: AuthMethod::Password {
            username: user.into(),
            password: Secret::new(password),
            user_domain_name: "Default".into(),
            user_domain_id: None,
        },
        project_name: Some("research".into()),
        project_id: None,
        project_domain_name: "Default".into(),
        project_domain_id: None,
        region: Some("RegionOne".into()),
        interface: Interface::Public,
        cacert: None,
        insecure: false,
        ceph: None,
        files: Some(FilesConfig {
            dir: pool.to_path_buf(),
            throttle_mib_s: throttle,
            inject_export_failure: fail,
            in_memory_cloud: true,
        }),
    }
}

impl SimClouds {
    pub async fn start(opts: SimOptions) -> std::io::Result<Self> {
        let dir = &opts.dir;
        for d in ["old-pool", "new-pool", "work", "exports", "tape"] {
            crate::storage::private_fs::create_dir_all(&dir.join(d))?;
        }
        let kept_lock = match opts.keep_state {
            true => Some(lock_kept_dir(dir)?),
            false => None,
        };
        let stop = CancellationToken::new();
        let now = chrono::Utc::now().naive_utc();
        let mut shared = Vec::new();
        for (name, compute) in [("old", true), ("new", false)] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let mut s = CloudState::new(
                name,
                base,
                dir.join(format!("{name}-pool")),
                compute,
                opts.faults.clone(),
            );
            demo_seed::users_and_projects(&mut s, compute);
            demo_seed::volume_types(&mut s, compute);
            let mut kept = None;
            if opts.keep_state {
                let file = sim_state::state_file(dir, name);
                kept = sim_state::read(&file)?;
                s.state_file = Some(file);
            }
            if compute {
                // A restored cloud keeps its volumes and what its servers wrote to them.
                if kept.is_none() {
                    demo_seed::old_research(&mut s, now)?;
                }
                demo_seed::usage_history(&mut s, now);
            }
            if let Some(kept) = kept {
                sim_state::restore_servers(&mut s, &kept);
                s.volumes = kept.volumes;
            }
            sim_state::save(&mut s);
            let state: Shared = Arc::new(Mutex::new(s));
            tokio::spawn(serve(state.clone(), listener, compute, opts.api_delay, stop.clone()));
            shared.push(state);
        }
        let (old, new) = (shared[0].clone(), shared[1].clone());
        if let Some(after) = opts.faults.token_expiry {
            let (o, n, stop) = (old.clone(), new.clone(), stop.clone());
            tokio::spawn(async move {
                tokio::select! {
                    _ = tokio::time::sleep(after) => {
                        for c in [&o, &n] {
                            http::lock(c).tokens.clear();
                        }
                        tracing::info!("simulated token expiry: every token is now invalid");
                    }
                    _ = stop.cancelled() => {}
                }
            });
        }
        let (notes_tx, notes) = mpsc::unbounded_channel();
        if opts.live_servers {
            let servers = live_servers::LiveServers {
                old: old.clone(),
                new: new.clone(),
                maintenance_after: opts.maintenance_after,
                notes: notes_tx,
            };
            tokio::spawn(servers.run(stop.clone()));
        }
        let fail: Vec<String> = {
            let s = http::lock(&old);
            s.volumes
                .values()
                .filter(|v| opts.faults.export_fail.contains(&v.name))
                .map(|v| format!("volume-{}", v.id))
                .collect()
        };
        let base = |c: &Shared| http::lock(c).base.clone();
        let tape = if opts.faults.tape_fail {
            vec![
                "sh".into(),
                "-c".into(),
                "echo 'simulated tape drive offline' >&2; exit 1".into(),
                "tape".into(),
                "{file}".into(),
            ]
        } else {
            vec![
                "cp".into(),
                "--sparse=always".into(),
                "{file}".into(),
                format!("{}/", dir.join("tape").display()),
            ]
        };
        let start = NaiveDate::from_ymd_opt(now.year() - 2, now.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or(now);
        let end = NaiveDate::from_ymd_opt(now.year(), now.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or(now);
        let config = Config {
            old_cloud: cloud_config(
                &base(&old),
                "admin",
                "adminpass",
                &dir.join("old-pool"),
                opts.export_mib_s.or(opts.throttle_mib_s),
                fail,
            ),
            new_cloud: cloud_config(
                &base(&new),
                "admin",
                "adminpass",
                &dir.join("new-pool"),
                opts.import_mib_s.or(opts.throttle_mib_s),
                Vec::new(),
            ),
            work_dir: dir.join("work"),
            export_dir: Some(dir.join("exports")),
            usage: Some(UsagePeriod { start, end }),
            tape: Some(TapeConfig {
                command: tape,
                drives: None,
            }),
            import_strategy: ImportStrategy::Replace,
            volume_type_map: [
                ("ceph-hdd".to_string(), "standard".to_string()),
                ("ceph-ssd".to_string(), "fast".to_string()),
            ]
            .into(),
            concurrency: Concurrency::default(),
            stall_seconds: crate::config::stall_seconds(),
        };
        Ok(Self {
            old,
            new,
            config,
            notes: Some(notes),
            stop,
            _kept: kept_lock,
        })
    }

    /// Stops the old cloud's running servers that volumes are attached to,
    /// as an operator would before a cutover; returns their names.
    pub fn stop_servers(&self) -> Vec<String> {
        let names = live_servers::stop_servers(&self.old);
        tracing::info!("simulated operator: stopped {names:?}");
        names
    }

    /// Changes the old cloud's injected faults while a run goes (tests).
    pub fn change_old_faults(&self, change: impl FnOnce(&mut Faults)) {
        change(&mut http::lock(&self.old).faults);
    }
}

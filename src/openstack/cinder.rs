//! Cinder v3: the volume calls of phases 1 and 3. Every call sends
//! `OpenStack-API-Version: volume 3.8`: the lowest version with
//! manage-existing, so it also works on old clouds.

use super::catalog::Service;
use super::links::{each_page, next_link, Link};
use super::session::{Call, Session};
use super::volume::{Manageable, NewVolume, Pool, Volume, VolumeQuota, VolumeType};
use super::{OpenStackError, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

pub const VOLUME_MICROVERSION: &str = "volume 3.8";

pub struct Cinder<'a> {
    session: &'a Session,
}

/// Adds the optional fields of `new` that are set.
fn put_optional(body: &mut Value, new: &NewVolume) {
    let fields = [
        ("name", &new.name),
        ("description", &new.description),
        ("volume_type", &new.volume_type),
        ("availability_zone", &new.availability_zone),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
}

impl<'a> Cinder<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self { session }
    }

    fn call(&self, method: Method, path: impl Into<String>) -> Call {
        Call::new(Service::BlockStorage, method, path).microversion(VOLUME_MICROVERSION)
    }

    /// Volumes with details, as raw JSON (kept verbatim for the inventory
    /// archive). With `project` set, lists that project admin-style
    /// (`all_tenants=1&project_id=`); otherwise the token's own project.
    /// Follows `volumes_links` pages.
    pub async fn list_volumes_raw(&self, project: Option<&str>) -> Result<Vec<Value>> {
        self.list_volumes_paged(project, None).await
    }

    /// As [`Self::list_volumes_raw`], asking for pages of `limit` volumes.
    pub async fn list_volumes_paged(&self, project: Option<&str>, limit: Option<u32>) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Page {
            volumes: Vec<Value>,
            #[serde(default)]
            volumes_links: Vec<Link>,
        }
        let mut call = self.call(Method::GET, "/volumes/detail");
        if let Some(p) = project {
            call = call.query("all_tenants", "1").query("project_id", p);
        }
        if let Some(l) = limit {
            call = call.query("limit", l.to_string());
        }
        let mut out = Vec::new();
        each_page(
            self.session,
            call,
            |h| self.call(Method::GET, h),
            |page: Page| {
                out.extend(page.volumes);
                next_link(&page.volumes_links)
            },
        )
        .await?;
        Ok(out)
    }

    pub async fn list_volumes(&self, project: Option<&str>) -> Result<Vec<Volume>> {
        self.decode_volumes(&self.list_volumes_raw(project).await?)
    }

    /// Volumes as [`Self::list_volumes_raw`] returned them, decoded.
    pub fn decode_volumes(&self, raw: &[Value]) -> Result<Vec<Volume>> {
        raw.iter()
            .map(|v| {
                Volume::deserialize(v).map_err(|e| OpenStackError::Decode {
                    cloud: self.session.name().into(),
                    request: "GET /volumes/detail".into(),
                    message: e.to_string(),
                })
            })
            .collect()
    }

    pub async fn get_volume(&self, id: &str) -> Result<Volume> {
        #[derive(Deserialize)]
        struct One {
            volume: Volume,
        }
        let one: One = self
            .session
            .json(&self.call(Method::GET, format!("/volumes/{id}")))
            .await?;
        Ok(one.volume)
    }

    pub async fn create_volume(&self, new: &NewVolume) -> Result<Volume> {
        let mut body = json!({ "size": new.size, "metadata": new.metadata });
        put_optional(&mut body, new);
        #[derive(Deserialize)]
        struct One {
            volume: Volume,
        }
        let call = self.call(Method::POST, "/volumes").body(json!({ "volume": body }));
        let one: One = self.session.json(&call).await?;
        tracing::info!(cloud = self.session.name(), volume = %one.volume.id, size = new.size, "volume created");
        Ok(one.volume)
    }

    pub async fn delete_volume(&self, id: &str) -> Result<()> {
        self.session
            .send(&self.call(Method::DELETE, format!("/volumes/{id}")))
            .await?;
        tracing::info!(cloud = self.session.name(), volume = %id, "volume delete requested");
        Ok(())
    }

    /// Merges `metadata` into the volume's metadata.
    pub async fn set_metadata(&self, id: &str, metadata: &BTreeMap<String, String>) -> Result<()> {
        let call = self
            .call(Method::POST, format!("/volumes/{id}/metadata"))
            .body(json!({ "metadata": metadata }));
        self.session.send(&call).await?;
        Ok(())
    }

    /// A volume action (`POST /volumes/{id}/action`), e.g. `os-extend`, or
    /// `os-reserve` + `os-attach` to mark a volume in use without Nova.
    pub async fn action(&self, id: &str, body: Value) -> Result<()> {
        let call = self.call(Method::POST, format!("/volumes/{id}/action")).body(body);
        self.session.send(&call).await?;
        Ok(())
    }

    /// A Cinder snapshot of the volume; returns its id.
    pub async fn create_snapshot(&self, volume_id: &str, name: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Snap {
            id: String,
        }
        #[derive(Deserialize)]
        struct One {
            snapshot: Snap,
        }
        let call = self
            .call(Method::POST, "/snapshots")
            .body(json!({ "snapshot": { "volume_id": volume_id, "name": name } }));
        let one: One = self.session.json(&call).await?;
        Ok(one.snapshot.id)
    }

    /// A snapshot's status (`creating`, `available`, `error`, ...).
    pub async fn snapshot_status(&self, id: &str) -> Result<String> {
        let v: Value = self
            .session
            .json(&self.call(Method::GET, format!("/snapshots/{id}")))
            .await?;
        Ok(v["snapshot"]["status"].as_str().unwrap_or_default().to_string())
    }

    pub async fn delete_snapshot(&self, id: &str) -> Result<()> {
        self.session
            .send(&self.call(Method::DELETE, format!("/snapshots/{id}")))
            .await?;
        Ok(())
    }

    pub async fn set_bootable(&self, id: &str, bootable: bool) -> Result<()> {
        self.action(id, json!({ "os-set_bootable": { "bootable": bootable } }))
            .await
    }

    pub async fn set_image_metadata(&self, id: &str, metadata: &BTreeMap<String, String>) -> Result<()> {
        self.action(id, json!({ "os-set_image_metadata": { "metadata": metadata } }))
            .await
    }

    /// Polls until the volume's status is one of `wanted`, with backoff (200 ms, x1.5, up to
    /// 2 s). Status `error*` fails at once with a distinct error.
    pub async fn wait_for_status(&self, id: &str, wanted: &[&str], deadline: Duration) -> Result<Volume> {
        let start = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(200);
        loop {
            let v = self.get_volume(id).await?;
            if wanted.contains(&v.status.as_str()) {
                return Ok(v);
            }
            if v.status.starts_with("error") {
                return Err(OpenStackError::VolumeError {
                    id: id.into(),
                    status: v.status,
                    wanted: wanted.join("|"),
                });
            }
            if start.elapsed() + delay > deadline {
                return Err(OpenStackError::WaitTimeout {
                    id: id.into(),
                    wanted: wanted.join("|"),
                    status: v.status,
                    seconds: deadline.as_secs(),
                });
            }
            tokio::time::sleep(delay).await;
            // Short polls: a volume is usually ready within seconds; minutes of waiting poll every 2 s.
            delay = (delay * 3 / 2).min(Duration::from_secs(2));
        }
    }

    /// Waits until `GET` answers 404.
    pub async fn wait_deleted(&self, id: &str, deadline: Duration) -> Result<()> {
        let start = tokio::time::Instant::now();
        loop {
            match self.get_volume(id).await {
                Err(OpenStackError::Api(e)) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e),
                Ok(v) if v.status == "error_deleting" || start.elapsed() > deadline => {
                    return Err(OpenStackError::WaitTimeout {
                        id: id.into(),
                        wanted: "deleted".into(),
                        status: v.status,
                        seconds: deadline.as_secs(),
                    })
                }
                Ok(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    pub async fn quota_usage(&self, project: &str) -> Result<VolumeQuota> {
        #[derive(Deserialize)]
        struct Body {
            quota_set: VolumeQuota,
        }
        let call = self
            .call(Method::GET, format!("/os-quota-sets/{project}"))
            .query("usage", "true");
        Ok(self.session.json::<Body>(&call).await?.quota_set)
    }

    /// The volume types the token's project may use: public ones and the
    /// private ones it was given (`is_public=None`).
    pub async fn volume_types(&self) -> Result<Vec<VolumeType>> {
        #[derive(Deserialize)]
        struct Body {
            volume_types: Vec<VolumeType>,
        }
        let call = self.call(Method::GET, "/types").query("is_public", "None");
        Ok(self.session.json::<Body>(&call).await?.volume_types)
    }

    /// Backend pools; the `name` is the host string manage-existing needs.
    pub async fn pools(&self) -> Result<Vec<Pool>> {
        #[derive(Deserialize)]
        struct Body {
            pools: Vec<Pool>,
        }
        let call = self
            .call(Method::GET, "/scheduler-stats/get_pools")
            .query("detail", "true");
        Ok(self.session.json::<Body>(&call).await?.pools)
    }

    /// The Cinder pool whose RBD driver stores into RADOS pool `rados_pool`.
    pub async fn pool_for_rados(&self, rados_pool: &str) -> Result<Pool> {
        let pools = self.pools().await?;
        let names: Vec<String> = pools.iter().map(|p| p.name.clone()).collect();
        pools
            .into_iter()
            .find(|p| p.rados_pool() == Some(rados_pool))
            .ok_or_else(|| {
                OpenStackError::Config(format!(
                    "{} cloud: no Cinder pool stores into RADOS pool {rados_pool:?} (pools: {}); check new_cloud.ceph.pool",
                    self.session.name(),
                    names.join(", ")
                ))
            })
    }

    /// `manageable_volumes/detail?host=` (3.8+). `host` is `<host>@<backend>`.
    pub async fn manageable(&self, host: &str) -> Result<Vec<Manageable>> {
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "manageable-volumes")]
            items: Vec<Manageable>,
        }
        let call = self.call(Method::GET, "/manageable_volumes/detail").query("host", host);
        Ok(self.session.json::<Body>(&call).await?.items)
    }

    /// Asks Cinder to adopt the backend image `source_name` on `pool_host`
    /// (`<host>@<backend>#<pool>`). The volume lands in the token's project.
    pub async fn manage_existing(&self, pool_host: &str, source_name: &str, new: &NewVolume) -> Result<Volume> {
        let mut body = json!({
            "host": pool_host,
            "ref": { "source-name": source_name },
            "metadata": new.metadata,
        });
        put_optional(&mut body, new);
        #[derive(Deserialize)]
        struct One {
            volume: Volume,
        }
        let call = self
            .call(Method::POST, "/manageable_volumes")
            .body(json!({ "volume": body }));
        let one: One = self.session.json(&call).await?;
        tracing::info!(cloud = self.session.name(), volume = %one.volume.id, source = source_name, "manage-existing requested");
        Ok(one.volume)
    }

    /// Whether policy lets this token manage existing volumes, asked without
    /// managing anything: the request names a volume type that does not exist.
    /// Cinder checks the policy first (403 when denied), then looks the type
    /// up (400 "Cannot find requested … volume type" when allowed; 404 on
    /// older Cinder). Should a Cinder accept it anyway, the request's volume
    /// (of an image that does not exist) is deleted again.
    pub async fn may_manage(&self, pool_host: &str) -> Result<bool> {
        let probe = format!("stackmigrate-preflight-{}", uuid::Uuid::new_v4());
        let new = NewVolume {
            volume_type: Some(format!("{probe}-no-such-type")),
            ..Default::default()
        };
        match self.manage_existing(pool_host, &probe, &new).await {
            Err(e) if e.status() == Some(403) => Ok(false),
            Err(e) if matches!(e.status(), Some(400 | 404)) && mentions_type(&e) => Ok(true),
            Err(e) => Err(e),
            Ok(v) => {
                tracing::warn!(cloud = self.session.name(), volume = %v.id, "the manage probe was accepted; deleting its volume");
                let wait = Duration::from_secs(60);
                let _ = self.wait_for_status(&v.id, &["error", "available"], wait).await;
                self.delete_volume(&v.id).await?;
                Ok(true)
            }
        }
    }
}

/// A 400/404 about the volume type, not about the request's shape.
fn mentions_type(e: &OpenStackError) -> bool {
    e.api()
        .is_some_and(|a| a.message.to_ascii_lowercase().contains("volume type"))
}

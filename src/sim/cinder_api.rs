//! Simulated Cinder v3 over a directory of `volume-<id>` files: volumes
//! (list with paging, get, delete, metadata, actions; create and volume types
//! in `cinder_create`), quota usage,
//! pools, manage-existing. Shapes follow `api-samples/openstack/cinder_*`.

use super::cinder_create::{self, new_volume, used_gib};
use super::cloud_state::{naive, opt_naive, CloudState, SimToken, SimVolume};
use super::http::{fault, lock, reply, token_header, unauthorized, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

const GIB: u64 = 1 << 30;
const MV: &str = "volume 3.8";

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/{p}/volumes/detail", get(list))
        .route("/v3/{p}/volumes", post(cinder_create::create))
        .route("/v3/{p}/types", get(cinder_create::types))
        .route("/v3/{p}/volumes/{id}", get(show).delete(delete))
        .route("/v3/{p}/volumes/{id}/metadata", post(metadata))
        .route("/v3/{p}/volumes/{id}/action", post(action))
        .route("/v3/{p}/os-quota-sets/{target}", get(quota))
        .route("/v3/{p}/scheduler-stats/get_pools", get(pools))
        .route("/v3/{p}/manageable_volumes/detail", get(manageable))
        .route("/v3/{p}/manageable_volumes", post(manage))
}

type Q = Query<HashMap<String, String>>;

/// Cinder's 404 for an unknown volume id.
pub(super) fn volume_not_found(id: &str, rid: &str) -> Response {
    fault(
        StatusCode::NOT_FOUND,
        "itemNotFound",
        &format!("Volume {id} could not be found."),
        rid,
    )
}

/// Token valid and scoped to the URL's project, as keystonemiddleware + Cinder check.
// An axum Response is a handler's natural error value.
#[allow(clippy::result_large_err)]
pub(super) fn auth(s: &CloudState, headers: &HeaderMap, p: &str, rid: &str) -> Result<SimToken, Response> {
    let t = s
        .check_token(token_header(headers).as_deref())
        .ok_or_else(|| unauthorized(rid))?;
    if t.project_id != p {
        return Err(fault(
            StatusCode::BAD_REQUEST,
            "badRequest",
            "Malformed request url",
            rid,
        ));
    }
    Ok(t)
}

pub(super) fn ok(rid: &str, status: StatusCode, body: Value) -> Response {
    reply(status, rid, body, &[("openstack-api-version", MV.to_string())])
}

/// A volume as Cinder shows it at `MV` (the keys of later microversions,
/// `group_id` 3.13 to `consumes_quota` 3.65, are not sent; checked against
/// the live testbed by tests/openstack/sim_shape.rs).
pub fn volume_json(s: &CloudState, v: &SimVolume) -> Value {
    let link = |rel: &str, prefix: &str| json!({"rel": rel, "href": format!("{}{prefix}/{}/volumes/{}", s.base, v.project_id, v.id)});
    let attachments: Vec<Value> = v
        .attachments
        .iter()
        .map(|(server, device)| json!({"server_id": server, "attachment_id": format!("att-{}", &v.id[..8]), "attached_at": naive(&v.created_at), "host_name": null, "volume_id": v.id, "device": device, "id": v.id}))
        .collect();
    let mut j = json!({
        "id": v.id, "status": v.status, "size": v.size, "availability_zone": "nova",
        "created_at": naive(&v.created_at), "updated_at": opt_naive(&v.updated_at),
        "name": v.name, "description": v.description, "volume_type": v.volume_type,
        "snapshot_id": null, "source_volid": null, "metadata": v.metadata,
        "links": [link("self", "/v3"), link("bookmark", "")],
        "user_id": v.user_id, "bootable": if v.bootable { "true" } else { "false" },
        "encrypted": false, "replication_status": null, "consistencygroup_id": null, "multiattach": false,
        "attachments": attachments, "migration_status": null,
        "os-vol-tenant-attr:tenant_id": v.project_id, "os-vol-mig-status-attr:migstat": null,
        "os-vol-mig-status-attr:name_id": null, "os-vol-host-attr:host": s.host,
    });
    if !v.image_metadata.is_empty() {
        j["volume_image_metadata"] = json!(v.image_metadata);
    }
    j
}

/// A volume as a GET shows it to `t`: a token that is not admin sees neither
/// the host nor the migration keys (as the testbed's Cinder 29 answers).
fn viewed_json(s: &CloudState, v: &SimVolume, t: &SimToken) -> Value {
    let mut j = volume_json(s, v);
    if let (false, Some(o)) = (CloudState::is_admin(t), j.as_object_mut()) {
        o.retain(|k, _| {
            !k.starts_with("os-vol-mig-status-attr:") && k != "os-vol-host-attr:host" && k != "migration_status"
        });
    }
    j
}

/// Whether `t` may reach volume `v` by id: its own project's, or any for an
/// admin (Cinder answers 404 otherwise).
fn reaches(t: &SimToken, v: &SimVolume) -> bool {
    CloudState::is_admin(t) || v.project_id == t.project_id
}

/// A volume as the answer to its create or manage request shows it: without
/// the `os-vol-*` attributes (Cinder adds those to GETs only), and without
/// `migration_status` for a token that is not admin.
pub(super) fn created_json(s: &CloudState, v: &SimVolume, admin: bool) -> Value {
    let mut j = volume_json(s, v);
    if let Some(o) = j.as_object_mut() {
        o.retain(|k, _| !k.starts_with("os-vol-") && (admin || k != "migration_status"));
    }
    j
}

/// Promotes volumes whose simulated work is done (creating → available, manage results).
fn settle(s: &mut CloudState) {
    let now = chrono::Utc::now().naive_utc();
    let ready: Vec<String> = s
        .volumes
        .values()
        .filter(|v| v.status == "creating" && now - v.created_at >= chrono::Duration::milliseconds(150))
        .map(|v| v.id.clone())
        .collect();
    for id in ready {
        let dir = s.store_dir.clone();
        let Some(v) = s.volumes.get_mut(&id) else { continue };
        let path = dir.join(format!("volume-{id}"));
        let source = v.metadata.remove("__manage_source");
        v.status = match source {
            Some(src) => match std::fs::metadata(dir.join(&src)) {
                Ok(m) if std::fs::rename(dir.join(&src), &path).is_ok() => {
                    v.size = m.len().div_ceil(GIB);
                    "available".into()
                }
                _ => "error".into(),
            },
            None => match crate::storage::private_fs::create_file(&path).and_then(|f| f.set_len(v.size * GIB)) {
                Ok(()) => "available".into(),
                Err(_) => "error".into(),
            },
        };
        v.updated_at = Some(now);
    }
}

async fn list(State(st): State<Shared>, Path(p): Path<String>, Query(q): Q, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    settle(&mut s);
    let project = match (q.get("all_tenants").map(String::as_str), CloudState::is_admin(&t)) {
        (Some("1" | "true"), true) => q.get("project_id").cloned(),
        _ => Some(t.project_id.clone()),
    };
    let mut vols: Vec<&SimVolume> = s
        .volumes
        .values()
        .filter(|v| project.as_ref().is_none_or(|p| v.project_id == *p))
        .collect();
    if let Some(marker) = q.get("marker") {
        vols.retain(|v| v.id.as_str() > marker.as_str());
    }
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(1000);
    let more = vols.len() > limit;
    vols.truncate(limit);
    let mut body = json!({"volumes": vols.iter().map(|v| viewed_json(&s, v, &t)).collect::<Vec<_>>()});
    if let (true, Some(last)) = (more, vols.last()) {
        let mut next = format!("{}/v3/{p}/volumes/detail?limit={limit}&marker={}", s.base, last.id);
        if let Some(pid) = q.get("project_id") {
            next.push_str(&format!("&all_tenants=1&project_id={pid}"));
        }
        body["volumes_links"] = json!([{"href": next, "rel": "next"}]);
    }
    ok(&rid, StatusCode::OK, body)
}

async fn show(State(st): State<Shared>, Path((p, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    settle(&mut s);
    match s.volumes.get(&id).filter(|v| reaches(&t, v)) {
        Some(v) => ok(&rid, StatusCode::OK, json!({"volume": viewed_json(&s, v, &t)})),
        None => volume_not_found(&id, &rid),
    }
}

/// The statuses Cinder deletes a volume in (unattached); its refusal of any
/// other, word for word (Cinder 29).
const DELETABLE: &[&str] = &[
    "available",
    "error",
    "error_restoring",
    "error_extending",
    "error_managing",
];
const NOT_DELETABLE: &str = "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.";

async fn delete(State(st): State<Shared>, Path((p, id)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    settle(&mut s);
    let Some(v) = s.volumes.get(&id).filter(|v| reaches(&t, v)) else {
        return volume_not_found(&id, &rid);
    };
    if !DELETABLE.contains(&v.status.as_str()) || !v.attachments.is_empty() {
        return fault(StatusCode::BAD_REQUEST, "badRequest", NOT_DELETABLE, &rid);
    }
    match s.volumes.remove(&id) {
        Some(_) => {
            let _ = std::fs::remove_file(s.store_dir.join(format!("volume-{id}")));
            ok(&rid, StatusCode::ACCEPTED, Value::Null)
        }
        None => volume_not_found(&id, &rid),
    }
}

async fn metadata(
    State(st): State<Shared>,
    Path((p, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(v) = s.volumes.get_mut(&id).filter(|v| reaches(&t, v)) else {
        return volume_not_found(&id, &rid);
    };
    if let Some(m) = body["metadata"].as_object() {
        for (k, val) in m {
            v.metadata
                .insert(k.clone(), val.as_str().unwrap_or_default().to_string());
        }
    }
    let out = json!({"metadata": v.metadata});
    ok(&rid, StatusCode::OK, out)
}

async fn action(
    State(st): State<Shared>,
    Path((p, id)): Path<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(v) = s.volumes.get_mut(&id).filter(|v| reaches(&t, v)) else {
        return volume_not_found(&id, &rid);
    };
    // As Cinder answers: nothing to `os-set_bootable`, the image metadata to
    // `os-set_image_metadata`.
    if let Some(b) = body["os-set_bootable"]["bootable"].as_bool() {
        v.bootable = b;
        ok(&rid, StatusCode::OK, Value::Null)
    } else if let Some(m) = body["os-set_image_metadata"]["metadata"].as_object() {
        for (k, val) in m {
            v.image_metadata
                .insert(k.clone(), val.as_str().unwrap_or_default().to_string());
        }
        let out = json!({"metadata": v.image_metadata});
        ok(&rid, StatusCode::OK, out)
    } else {
        fault(StatusCode::BAD_REQUEST, "badRequest", "There is no such action", &rid)
    }
}

async fn quota(State(st): State<Shared>, Path((p, target)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    if let Err(r) = auth(&s, &headers, &p, &rid) {
        return r;
    }
    let (count, gib) = used_gib(&s, &target);
    let item = |limit: i64, in_use: i64| json!({"limit": limit, "in_use": in_use, "reserved": 0});
    let body = json!({"quota_set": {
        "volumes": item(s.quota_volumes, count), "per_volume_gigabytes": item(-1, 0), "snapshots": item(10, 0),
        "gigabytes": item(s.quota_gigabytes, gib), "backups": item(10, 0), "backup_gigabytes": item(1000, 0),
        "volumes___DEFAULT__": item(-1, count), "gigabytes___DEFAULT__": item(-1, gib), "snapshots___DEFAULT__": item(-1, 0),
        "groups": item(10, 0), "id": target,
    }});
    ok(&rid, StatusCode::OK, body)
}

async fn pools(State(st): State<Shared>, Path(p): Path<String>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !CloudState::is_admin(&t) {
        let m = "Policy doesn't allow scheduler_extension:scheduler_stats:get_pools to be performed.";
        return fault(StatusCode::FORBIDDEN, "forbidden", m, &rid);
    }
    let caps = json!({"pool_name": "files", "total_capacity_gb": 1000, "free_capacity_gb": 1000, "provisioned_capacity_gb": 0,
        "reserved_percentage": 0, "QoS_support": false, "filter_function": null, "goodness_function": null,
        "consistencygroup_support": false, "replication_enabled": false, "group_replication_enabled": false,
        "thin_provisioning_support": true, "max_over_subscription_ratio": 20.0, "allocated_capacity_gb": 0,
        "cacheable": true, "volume_backend_name": "files", "storage_protocol": "nfs", "vendor_name": "Open Source",
        "driver_version": "1.0.0", "timestamp": naive(&chrono::Utc::now().naive_utc()),
        "location_info": format!("ceph:sim:fsid:admin:{}", s.store_dir.display())});
    ok(
        &rid,
        StatusCode::OK,
        json!({"pools": [{"name": s.host, "capabilities": caps}]}),
    )
}

async fn manageable(State(st): State<Shared>, Path(p): Path<String>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    if let Err(r) = auth(&s, &headers, &p, &rid) {
        return r;
    }
    let mut items = Vec::new();
    for e in std::fs::read_dir(&s.store_dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let size = e.metadata().map(|m| m.len().div_ceil(GIB)).unwrap_or(0);
        let managed = name.strip_prefix("volume-").map(str::to_string);
        items.push(
            json!({"reference": {"source-name": name}, "size": size, "safe_to_manage": managed.is_none(),
            "reason_not_safe": managed.as_ref().map(|_| "already managed"), "cinder_id": managed, "extra_info": null}),
        );
    }
    ok(&rid, StatusCode::OK, json!({"manageable-volumes": items}))
}

async fn manage(
    State(st): State<Shared>,
    Path(p): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !CloudState::is_admin(&t) {
        return fault(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Policy doesn't allow volume_extension:volume_manage to be performed.",
            &rid,
        );
    }
    let mut v = new_volume(&t, &body["volume"]);
    if let Some(asked) = body["volume"]["volume_type"].as_str() {
        v.volume_type = asked.to_string();
    }
    let source = body["volume"]["ref"]["source-name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    v.metadata.insert("__manage_source".into(), source);
    let mut shown = created_json(&s, &v, true);
    shown["metadata"].as_object_mut().map(|m| m.remove("__manage_source"));
    s.volumes.insert(v.id.clone(), v);
    ok(&rid, StatusCode::ACCEPTED, json!({"volume": shown}))
}

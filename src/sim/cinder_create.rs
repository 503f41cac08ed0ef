//! Simulated Cinder's volume create and what it checks (the volume type,
//! the quota), and its volume types (`GET /types`). Shapes and messages as
//! the testbed's Cinder 29 answers (tests/openstack/sim_shape.rs).

use super::cinder_api::{auth, created_json, ok};
use super::cloud_state::{CloudState, SimToken, SimVolume};
use super::http::{fault, lock, reply, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The type Cinder gives a volume created without one.
pub const DEFAULT_TYPE: &str = "__DEFAULT__";

/// `GET /v3/{p}/types`: the cloud's (public) volume types; an admin also
/// sees each one's `qos_specs_id`.
pub async fn types(State(st): State<Shared>, Path(p): Path<String>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &p, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let admin = CloudState::is_admin(&t);
    let list: Vec<Value> = s
        .volume_types
        .iter()
        .map(|(id, name)| {
            let mut v = json!({"id": id, "name": name, "is_public": true, "description": null,
                "extra_specs": {}, "os-volume-type-access:is_public": true});
            if let (true, Some(o)) = (admin, v.as_object_mut()) {
                o.insert("qos_specs_id".into(), Value::Null);
            }
            v
        })
        .collect();
    ok(&rid, StatusCode::OK, json!({"volume_types": list}))
}

/// Cinder's 404 for a volume type it does not have, asked by name or id.
fn type_not_found(asked: &str, rid: &str) -> Response {
    let message = match uuid::Uuid::parse_str(asked) {
        Ok(_) => format!("Volume type {asked} could not be found."),
        Err(_) => format!("Volume type with name {asked} could not be found."),
    };
    fault(StatusCode::NOT_FOUND, "itemNotFound", &message, rid)
}

pub(super) fn new_volume(t: &SimToken, v: &Value) -> SimVolume {
    let strings = |k: &str| -> BTreeMap<String, String> {
        v[k].as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    SimVolume {
        id: uuid::Uuid::new_v4().to_string(),
        project_id: t.project_id.clone(),
        user_id: t.user_id.clone(),
        name: v["name"].as_str().unwrap_or_default().to_string(),
        description: v["description"].as_str().map(str::to_string),
        size: v["size"].as_u64().unwrap_or(0),
        status: "creating".into(),
        volume_type: DEFAULT_TYPE.to_string(),
        bootable: false,
        metadata: strings("metadata"),
        image_metadata: BTreeMap::new(),
        attachments: Vec::new(),
        created_at: chrono::Utc::now().naive_utc(),
        updated_at: None,
    }
}

pub(super) fn used_gib(s: &CloudState, project: &str) -> (i64, i64) {
    let vols: Vec<&SimVolume> = s.volumes.values().filter(|v| v.project_id == project).collect();
    (vols.len() as i64, vols.iter().map(|v| v.size as i64).sum())
}

pub async fn create(
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
    let mut v = new_volume(&t, &body["volume"]);
    if let Some(asked) = body["volume"]["volume_type"].as_str() {
        match s.volume_types.iter().find(|(id, name)| id == asked || name == asked) {
            Some((_, name)) => v.volume_type = name.clone(),
            None => return type_not_found(asked, &rid),
        }
    }
    let (count, gib) = used_gib(&s, &p);
    if s.faults.quota.contains(&v.name) || gib + v.size as i64 > s.quota_gigabytes || count + 1 > s.quota_volumes {
        let msg = format!(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested {}G, quota is {}G and {}G has been consumed.",
            v.size, s.quota_gigabytes, gib
        );
        let body = json!({"overLimit": {"code": 413, "message": msg, "retryAfter": "0"}});
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            &rid,
            body,
            &[("retry-after", "0".into())],
        );
    }
    let out = json!({"volume": created_json(&s, &v, CloudState::is_admin(&t))});
    s.volumes.insert(v.id.clone(), v);
    ok(&rid, StatusCode::ACCEPTED, out)
}

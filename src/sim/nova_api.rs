//! Simulated nova-api: servers (names, statuses; one by id, as the cutover
//! asks) and `os-simple-tenant-usage`
//! (show and list) computed from the seeded instance history, paged by instance as
//! Nova does at 2.40. Shapes follow `api-samples/nova/`.

use super::cloud_state::{naive, CloudState, SimInstance, SimToken};
use super::http::{fault, lock, reply, token_header, unauthorized, Shared};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::NaiveDateTime;
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v2.1/servers", get(servers))
        .route("/v2.1/servers/detail", get(servers_detail))
        .route("/v2.1/servers/{id}", get(server_show))
        .route("/v2.1/os-simple-tenant-usage", get(usage_list))
        .route("/v2.1/os-simple-tenant-usage/{project}", get(usage_show))
}

type Q = Query<HashMap<String, String>>;

// An axum Response is a handler's natural error value.
#[allow(clippy::result_large_err)]
fn auth(s: &CloudState, headers: &HeaderMap, rid: &str) -> Result<SimToken, Response> {
    s.check_token(token_header(headers).as_deref())
        .ok_or_else(|| unauthorized(rid))
}

fn visible<'a>(s: &'a CloudState, t: &SimToken, q: &HashMap<String, String>) -> Vec<&'a SimInstance> {
    let project = match q.get("all_tenants") {
        Some(_) if CloudState::is_admin(t) => q.get("project_id").cloned(),
        _ => Some(t.project_id.clone()),
    };
    s.instances
        .iter()
        .filter(|i| i.ended_at.is_none() && project.as_ref().is_none_or(|p| i.project_id == *p))
        .collect()
}

async fn servers(State(st): State<Shared>, Query(q): Q, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let list: Vec<Value> = visible(&s, &t, &q)
        .iter()
        .map(|i| json!({"id": i.id, "links": [{"rel": "self", "href": format!("{}/v2.1/servers/{}", s.base, i.id)}], "name": i.name}))
        .collect();
    reply(StatusCode::OK, &rid, json!({"servers": list}), &[])
}

async fn servers_detail(State(st): State<Shared>, Query(q): Q, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if s.faults.no_server_details {
        return no_details(&rid);
    }
    let admin = CloudState::is_admin(&t);
    let list: Vec<Value> = visible(&s, &t, &q).iter().map(|i| server_view(&s, i, admin)).collect();
    reply(StatusCode::OK, &rid, json!({"servers": list}), &[])
}

/// One server as nova-api shows it at 2.40 (`/servers/detail`, `/servers/{id}`),
/// key for key; an admin also sees the `OS-EXT-SRV-ATTR` keys and
/// `host_status`. No Neutron stands behind it, so no security groups, and its
/// volumes are attached in Cinder only (no block-device mapping), as on the
/// testbed.
fn server_view(s: &CloudState, i: &SimInstance, admin: bool) -> Value {
    let z = |t: &NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (vm_state, power_state) = match i.status {
        "ACTIVE" => ("active", 1),
        _ => ("stopped", 4),
    };
    let link = |kind: &str, id: &str| json!([{"rel": "bookmark", "href": format!("{}/{kind}/{id}", s.base)}]);
    let mut v = json!({
        "id": i.id, "name": i.name, "status": i.status, "tenant_id": i.project_id,
        "user_id": s.users.first().map(|u| u.id.as_str()).unwrap_or_default(),
        "accessIPv4": "", "accessIPv6": "", "addresses": {}, "metadata": {},
        "created": z(&i.started_at), "updated": z(&i.started_at),
        "flavor": {"id": i.flavor, "links": link("flavors", i.flavor)},
        "image": {"id": SIM_IMAGE, "links": link("images", SIM_IMAGE)},
        "hostId": format!("{:0>56}", i.project_id),
        "links": [
            {"rel": "self", "href": format!("{}/v2.1/servers/{}", s.base, i.id)},
            {"rel": "bookmark", "href": format!("{}/servers/{}", s.base, i.id)},
        ],
        "OS-DCF:diskConfig": "MANUAL", "OS-EXT-AZ:availability_zone": "nova",
        "config_drive": "", "key_name": null, "locked": false, "description": null, "tags": [],
        "OS-SRV-USG:launched_at": naive(&i.started_at), "OS-SRV-USG:terminated_at": null,
        "OS-EXT-STS:task_state": null, "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:power_state": power_state,
        "os-extended-volumes:volumes_attached": [],
    });
    // Nova shows `progress` only in the states that make some (ACTIVE, BUILD, ...).
    if let (Some(v), "ACTIVE") = (v.as_object_mut(), i.status) {
        v.insert("progress".into(), json!(0));
    }
    if admin {
        let index = s.instances.iter().position(|x| x.id == i.id).unwrap_or_default() + 1;
        let extra = json!({
            "OS-EXT-SRV-ATTR:host": s.host, "OS-EXT-SRV-ATTR:hypervisor_hostname": null,
            "OS-EXT-SRV-ATTR:instance_name": format!("instance-{index:08x}"),
            "OS-EXT-SRV-ATTR:hostname": i.name, "OS-EXT-SRV-ATTR:kernel_id": null,
            "OS-EXT-SRV-ATTR:launch_index": null, "OS-EXT-SRV-ATTR:ramdisk_id": null,
            "OS-EXT-SRV-ATTR:reservation_id": null, "OS-EXT-SRV-ATTR:root_device_name": null,
            "OS-EXT-SRV-ATTR:user_data": null, "host_status": "",
        });
        if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
            v.extend(extra);
        }
    }
    v
}

/// Nova's answer when its server views cannot reach Neutron.
fn no_details(rid: &str) -> Response {
    let message = "Unexpected API Error. Please contact the administrator\n<class 'keystoneauth1.exceptions.catalog.EndpointNotFound'>";
    fault(StatusCode::INTERNAL_SERVER_ERROR, "computeFault", message, rid)
}

/// The image every simulated server was booted from.
const SIM_IMAGE: &str = "155d900f-4e14-4e4c-a73d-069cbf4541e6";

/// `GET /servers/{id}`: one server of the token's project (any, for an admin).
async fn server_show(State(st): State<Shared>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let slow = lock(&st).faults.slow_server_show;
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if s.faults.no_server_details {
        return no_details(&rid);
    }
    let found = s
        .instances
        .iter()
        .find(|i| i.id == id && i.ended_at.is_none() && (CloudState::is_admin(&t) || i.project_id == t.project_id));
    match found {
        Some(i) => {
            let body = json!({"server": server_view(&s, i, CloudState::is_admin(&t))});
            reply(StatusCode::OK, &rid, body, &[])
        }
        None => fault(
            StatusCode::NOT_FOUND,
            "itemNotFound",
            &format!("Instance {id} could not be found."),
            &rid,
        ),
    }
}

#[allow(clippy::result_large_err)]
fn parse_period(q: &HashMap<String, String>, rid: &str) -> Result<(NaiveDateTime, NaiveDateTime), Response> {
    let bad = |m: &str| fault(StatusCode::BAD_REQUEST, "badRequest", m, rid);
    let parse = |k: &str| -> Result<NaiveDateTime, Response> {
        let v = q.get(k).map(String::as_str).unwrap_or_default();
        NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| bad("Invalid datetime string: Datetime is in invalid format"))
    };
    let (start, end) = (parse("start")?, parse("end")?);
    if start >= end {
        return Err(bad(
            "Invalid start time. The start time cannot occur after the end time.",
        ));
    }
    Ok((start, end))
}

/// One instance's usage over [start, end), as Nova reports it; None if outside.
fn server_usage(i: &SimInstance, start: NaiveDateTime, end: NaiveDateTime, now: NaiveDateTime) -> Option<Value> {
    let from = i.started_at.max(start);
    let to = i.ended_at.unwrap_or(now).min(end);
    if to <= from {
        return None;
    }
    let hours = (to - from).num_seconds() as f64 / 3600.0;
    let uptime = (i.ended_at.unwrap_or(now) - i.started_at).num_seconds();
    Some(
        json!({"hours": hours, "flavor": i.flavor, "instance_id": i.id, "name": i.name, "tenant_id": i.project_id,
        "memory_mb": i.memory_mb, "local_gb": i.local_gb, "vcpus": i.vcpus, "started_at": naive(&i.started_at),
        "ended_at": i.ended_at.as_ref().map(naive), "state": vm_state(i), "uptime": uptime}),
    )
}

/// Nova's `vm_state` in a usage row: what its status means there.
fn vm_state(i: &SimInstance) -> &'static str {
    match (i.ended_at.is_some(), i.status) {
        (true, _) => "terminated",
        (false, "SHUTOFF") => "stopped",
        (false, _) => "active",
    }
}

fn tenant_usage(project: &str, usages: &[Value], start: NaiveDateTime, end: NaiveDateTime) -> Value {
    let sum = |f: &dyn Fn(&Value) -> f64| usages.iter().map(f).sum::<f64>();
    let h = |u: &Value| u["hours"].as_f64().unwrap_or(0.0);
    json!({"tenant_id": project, "server_usages": usages,
        "total_local_gb_usage": sum(&|u| h(u) * u["local_gb"].as_f64().unwrap_or(0.0)),
        "total_vcpus_usage": sum(&|u| h(u) * u["vcpus"].as_f64().unwrap_or(0.0)),
        "total_memory_mb_usage": sum(&|u| h(u) * u["memory_mb"].as_f64().unwrap_or(0.0)),
        "total_hours": sum(&h), "start": naive(&start), "stop": naive(&end)})
}

/// The usages on this page (by instance id after `marker`, `limit` of them) and the next marker.
fn page(
    s: &CloudState,
    project: Option<&str>,
    q: &HashMap<String, String>,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> (Vec<Value>, Option<String>) {
    let now = chrono::Utc::now().naive_utc();
    let mut all: Vec<(&SimInstance, Value)> = s
        .instances
        .iter()
        .filter(|i| project.is_none_or(|p| i.project_id == p))
        .filter_map(|i| server_usage(i, start, end, now).map(|u| (i, u)))
        .collect();
    all.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    if let Some(m) = q.get("marker") {
        all.retain(|(i, _)| i.id.as_str() > m.as_str());
    }
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(1000);
    let more = all.len() > limit;
    all.truncate(limit);
    let next = if more {
        all.last().map(|(i, _)| i.id.clone())
    } else {
        None
    };
    (all.into_iter().map(|(_, u)| u).collect(), next)
}

fn next_link(s: &CloudState, path: &str, q: &HashMap<String, String>, marker: &str) -> Value {
    let mut params: Vec<String> = q
        .iter()
        .filter(|(k, _)| *k != "marker")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    params.sort();
    json!([{"rel": "next", "href": format!("{}{path}?{}&marker={marker}", s.base, params.join("&"))}])
}

async fn usage_show(
    State(st): State<Shared>,
    Path(project): Path<String>,
    Query(q): Q,
    headers: HeaderMap,
) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if t.project_id != project && !CloudState::is_admin(&t) {
        return fault(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show to be performed.",
            &rid,
        );
    }
    let (start, end) = match parse_period(&q, &rid) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (usages, next) = page(&s, Some(&project), &q, start, end);
    let mut body = if usages.is_empty() {
        json!({"tenant_usage": {}})
    } else {
        json!({"tenant_usage": tenant_usage(&project, &usages, start, end)})
    };
    match next {
        Some(m) => {
            body["tenant_usage_links"] = next_link(&s, &format!("/v2.1/os-simple-tenant-usage/{project}"), &q, &m)
        }
        None if s.faults.usage_purge => {
            s.faults.usage_purge = false;
            s.instances.retain(|i| i.ended_at.is_none());
        }
        None => {}
    }
    reply(StatusCode::OK, &rid, body, &[])
}

async fn usage_list(State(st): State<Shared>, Query(q): Q, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let t = match auth(&s, &headers, &rid) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if !CloudState::is_admin(&t) {
        return fault(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Policy doesn't allow os_compute_api:os-simple-tenant-usage:list to be performed.",
            &rid,
        );
    }
    let (start, end) = match parse_period(&q, &rid) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let (usages, next) = page(&s, None, &q, start, end);
    let mut tenants: Vec<String> = Vec::new();
    for t in usages.iter().filter_map(|u| u["tenant_id"].as_str()) {
        if !tenants.iter().any(|x| x == t) {
            tenants.push(t.to_string());
        }
    }
    let list: Vec<Value> = tenants
        .iter()
        .map(|p| {
            let mine: Vec<Value> = usages
                .iter()
                .filter(|u| u["tenant_id"] == p.as_str())
                .cloned()
                .collect();
            tenant_usage(p, &mine, start, end)
        })
        .collect();
    let mut body = json!({"tenant_usages": list});
    if let Some(m) = next {
        body["tenant_usages_links"] = next_link(&s, "/v2.1/os-simple-tenant-usage", &q, &m);
    }
    reply(StatusCode::OK, &rid, body, &[])
}

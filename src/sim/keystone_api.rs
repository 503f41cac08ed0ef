//! Simulated Keystone v3: password and application-credential auth with
//! project scope, the catalog, projects (admin) and auth/projects (member),
//! token revocation. Shapes follow `api-samples/openstack/keystone_*`.

use super::cloud_state::{CloudState, SimToken, DOMAIN};
use super::http::{lock, reply, token_header, unauthorized, Shared};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde_json::{json, Value};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/v3/auth/tokens", post(issue).delete(revoke))
        .route("/v3/projects", get(projects))
        .route("/v3/auth/projects", get(auth_projects))
}

fn ts(t: &chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn catalog(s: &CloudState, project_id: &str) -> Value {
    let svc = |kind: &str, name: &str, url: String| {
        let eps: Vec<Value> = ["public", "internal", "admin"]
            .iter()
            .map(|i| json!({"id": uuid::Uuid::new_v4().simple().to_string(), "interface": i, "region_id": s.region, "url": url, "region": s.region}))
            .collect();
        json!({"endpoints": eps, "id": uuid::Uuid::new_v4().simple().to_string(), "type": kind, "name": name})
    };
    let mut c = vec![
        svc("identity", "keystone", format!("{}/v3/", s.base)),
        svc("volumev3", "cinderv3", format!("{}/v3/{project_id}", s.base)),
        svc("block-storage", "cinder", format!("{}/v3/{project_id}", s.base)),
    ];
    if s.has_compute {
        c.push(svc("compute", "nova", format!("{}/v2.1", s.base)));
    }
    Value::Array(c)
}

fn project_json(s: &CloudState, p: &super::cloud_state::SimProject) -> Value {
    json!({"id": p.id, "name": p.name, "domain_id": DOMAIN, "description": "", "enabled": true, "parent_id": DOMAIN,
           "is_domain": false, "tags": [], "options": {}, "links": {"self": format!("{}/v3/projects/{}", s.base, p.id)}})
}

async fn issue(State(st): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    if s.failing_logins > 0 {
        s.failing_logins -= 1;
        let body = json!({"error": {"code": 500, "title": "Internal Server Error",
            "message": "An unexpected error prevented the server from fulfilling your request."}});
        return reply(StatusCode::INTERNAL_SERVER_ERROR, &rid, body, &[]);
    }
    let id = &body["auth"]["identity"];
    let (user_name, password) = (
        id["password"]["user"]["name"].as_str(),
        id["password"]["user"]["password"].as_str(),
    );
    let Some(user) = s
        .users
        .iter()
        .find(|u| Some(u.name.as_str()) == user_name && Some(u.password.as_str()) == password)
        .cloned()
    else {
        return unauthorized(&rid);
    };
    let scope = &body["auth"]["scope"]["project"];
    let wanted = scope["id"].as_str().or(scope["name"].as_str()).unwrap_or("");
    let Some(project) = s.project(wanted).cloned() else {
        return unauthorized(&rid);
    };
    let Some((_, roles)) = user.roles.iter().find(|(p, _)| *p == project.id).cloned() else {
        return unauthorized(&rid);
    };
    let now = Utc::now();
    let token = SimToken {
        user_id: user.id.clone(),
        project_id: project.id.clone(),
        roles: roles.clone(),
        issued_at: now,
        expires_at: now + s.token_lifetime,
    };
    let value = format!("gAAAAAsim{}", uuid::Uuid::new_v4().simple());
    s.tokens.insert(value.clone(), token.clone());
    s.tokens_issued += 1;
    let roles: Vec<Value> = roles
        .iter()
        .map(|r| json!({"id": format!("role-{r}"), "name": r}))
        .collect();
    let body = json!({"token": {
        "methods": ["password"],
        "user": {"domain": {"id": DOMAIN, "name": "Default"}, "id": user.id, "name": user.name, "password_expires_at": null},
        "audit_ids": [uuid::Uuid::new_v4().simple().to_string()[..22].to_string()],
        "expires_at": ts(&token.expires_at),
        "issued_at": ts(&token.issued_at),
        "project": {"domain": {"id": DOMAIN, "name": "Default"}, "id": project.id, "name": project.name},
        "is_domain": false,
        "roles": roles,
        "catalog": catalog(&s, &project.id),
    }});
    reply(StatusCode::CREATED, &rid, body, &[("x-subject-token", value)])
}

async fn revoke(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    if s.check_token(token_header(&headers).as_deref()).is_none() {
        return unauthorized(&rid);
    }
    if let Some(subject) = headers.get("x-subject-token").and_then(|v| v.to_str().ok()) {
        s.tokens.remove(subject);
    }
    reply(StatusCode::NO_CONTENT, &rid, Value::Null, &[])
}

async fn projects(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let Some(t) = s.check_token(token_header(&headers).as_deref()) else {
        return unauthorized(&rid);
    };
    if !CloudState::is_admin(&t) {
        let body = json!({"error": {"code": 403, "message": "You are not authorized to perform the requested action: identity:list_projects.", "title": "Forbidden"}});
        return reply(StatusCode::FORBIDDEN, &rid, body, &[]);
    }
    let list: Vec<Value> = s.projects.iter().map(|p| project_json(&s, p)).collect();
    let body =
        json!({"projects": list, "links": {"next": null, "self": format!("{}/v3/projects", s.base), "previous": null}});
    reply(StatusCode::OK, &rid, body, &[])
}

async fn auth_projects(State(st): State<Shared>, headers: HeaderMap) -> Response {
    let mut s = lock(&st);
    let rid = s.request_id();
    let Some(t) = s.check_token(token_header(&headers).as_deref()) else {
        return unauthorized(&rid);
    };
    let user = s.users.iter().find(|u| u.id == t.user_id).cloned();
    let list: Vec<Value> = s
        .projects
        .iter()
        .filter(|p| user.as_ref().is_some_and(|u| u.roles.iter().any(|(id, _)| *id == p.id)))
        .map(|p| project_json(&s, p))
        .collect();
    let body = json!({"projects": list, "links": {"next": null, "self": format!("{}/v3/auth/projects", s.base), "previous": null}});
    reply(StatusCode::OK, &rid, body, &[])
}

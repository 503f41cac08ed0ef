//! Response helpers shared by the simulated services: JSON bodies, request
//! ids and the error shapes the real services send.

use super::cloud_state::CloudState;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex, MutexGuard};

pub type Shared = Arc<Mutex<CloudState>>;

pub fn lock(s: &Shared) -> MutexGuard<'_, CloudState> {
    // A panicked handler must not take the whole simulated cloud down.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn reply(status: StatusCode, request_id: &str, body: Value, extra: &[(&'static str, String)]) -> Response {
    let mut headers = HeaderMap::new();
    for (k, v) in extra
        .iter()
        .chain([("x-openstack-request-id", request_id.to_string())].iter())
    {
        if let Ok(v) = HeaderValue::from_str(v) {
            headers.insert(*k, v);
        }
    }
    // `null`: no body at all, as Cinder answers a delete or `os-set_bootable`.
    match body {
        Value::Null => (status, headers).into_response(),
        body => (status, headers, axum::Json(body)).into_response(),
    }
}

/// Cinder and Nova style: `{"itemNotFound": {"code": 404, "message": "..."}}`.
pub fn fault(status: StatusCode, kind: &str, message: &str, request_id: &str) -> Response {
    reply(
        status,
        request_id,
        json!({ kind: { "code": status.as_u16(), "message": message } }),
        &[],
    )
}

/// Keystone and keystonemiddleware style.
pub fn unauthorized(request_id: &str) -> Response {
    let body = json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}});
    reply(
        StatusCode::UNAUTHORIZED,
        request_id,
        body,
        &[("www-authenticate", "Keystone uri=\"sim\"".to_string())],
    )
}

pub fn token_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

//! One error type for every OpenStack call: the HTTP status, the request id and
//! the message parsed from whichever body shape the service used.

use reqwest::StatusCode;
use serde_json::Value;

/// A non-2xx answer from an OpenStack API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// `x-openstack-request-id` or `x-compute-request-id`, for the operator to
    /// grep in the service's logs.
    pub request_id: Option<String>,
    /// The body's error kind: `badRequest`, `itemNotFound`, `overLimit`,
    /// `forbidden`, `computeFault`, or `error` (Keystone, keystonemiddleware).
    pub kind: Option<String>,
    pub message: String,
    /// `METHOD URL` of the request, without credentials.
    pub request: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} → HTTP {}", self.request, self.status)?;
        if let Some(kind) = &self.kind {
            write!(f, " {kind}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Builds the error from a status, the response headers and body text.
    pub fn parse(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &str, request: String) -> Self {
        let request_id = ["x-openstack-request-id", "x-compute-request-id"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_string));
        let (kind, message) = parse_body(body).unwrap_or_else(|| {
            let text: String = body.trim().chars().take(300).collect();
            let text = if text.is_empty() {
                status.canonical_reason().unwrap_or("no body").to_string()
            } else {
                text
            };
            (None, text)
        });
        Self {
            status: status.as_u16(),
            request_id,
            kind,
            message,
            request,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

/// `{"<kind>": {"code": N, "message": "..."}}` (Cinder, Nova, Keystone), or
/// `{"message": "..."}`, or Cinder's `{"NotFound": {...}}` style: all have one
/// top-level key whose object holds `message`.
fn parse_body(body: &str) -> Option<(Option<String>, String)> {
    let v: Value = serde_json::from_str(body).ok()?;
    let obj = v.as_object()?;
    if let Some(Value::String(m)) = obj.get("message") {
        return Some((None, m.clone()));
    }
    obj.iter().find_map(|(kind, inner)| {
        let m = inner.get("message")?.as_str()?;
        Some((Some(kind.clone()), m.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn parse(status: u16, body: &str) -> ApiError {
        let mut h = HeaderMap::new();
        h.insert("x-openstack-request-id", HeaderValue::from_static("req-1"));
        ApiError::parse(
            StatusCode::from_u16(status).expect("status"),
            &h,
            body,
            "GET http://x/y".into(),
        )
    }

    #[test]
    fn parses_every_body_shape_seen_in_the_samples() {
        let cases = [
            (
                413,
                r#"{"overLimit": {"code": 413, "message": "VolumeSizeExceedsAvailableQuota: too big", "retryAfter": "0"}}"#,
                "overLimit",
                "VolumeSizeExceedsAvailableQuota: too big",
            ),
            (
                404,
                r#"{"itemNotFound": {"code": 404, "message": "Volume x could not be found."}}"#,
                "itemNotFound",
                "Volume x could not be found.",
            ),
            (
                400,
                r#"{"badRequest": {"code": 400, "message": "Invalid datetime string"}}"#,
                "badRequest",
                "Invalid datetime string",
            ),
            (
                403,
                r#"{"forbidden": {"code": 403, "message": "Policy doesn't allow"}}"#,
                "forbidden",
                "Policy doesn't allow",
            ),
            (
                406,
                r#"{"computeFault": {"code": 406, "message": "Version 9.99 is not supported"}}"#,
                "computeFault",
                "Version 9.99 is not supported",
            ),
            (
                401,
                r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#,
                "error",
                "The request you have made requires authentication.",
            ),
        ];
        for (status, body, kind, message) in cases {
            let e = parse(status, body);
            assert_eq!(e.status, status);
            assert_eq!(e.kind.as_deref(), Some(kind), "{body}");
            assert_eq!(e.message, message);
            assert_eq!(e.request_id.as_deref(), Some("req-1"));
        }
    }

    #[test]
    fn non_json_body_is_kept_as_text() {
        let e = parse(502, "<html>Bad Gateway</html>");
        assert_eq!(e.kind, None);
        assert_eq!(e.message, "<html>Bad Gateway</html>");
        let e = parse(503, "");
        assert_eq!(e.message, "Service Unavailable");
        assert!(e.to_string().contains("HTTP 503"), "{e}");
    }
}

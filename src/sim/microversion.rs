//! The microversion a request asks for, refused as the real services refuse
//! it (Nova 34: 2.1 to 2.104; Cinder 29: 3.0 to 3.71): a version outside
//! the range is a 406, a malformed one a 400. Checked after the token, as
//! keystonemiddleware runs before the services' own version handling. The
//! simulator answers every accepted version with the shapes it knows (Nova
//! at 2.40, Cinder at 3.8): stackmigrate asks for those.

use super::http::{fault, lock, token_header, Shared};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// The range a service accepts, and the name its `OpenStack-API-Version` header gives.
#[derive(Clone, Copy, Debug)]
pub struct Range {
    pub service: &'static str,
    pub min: (u32, u32),
    pub max: (u32, u32),
}

pub const COMPUTE: Range = Range {
    service: "compute",
    min: (2, 1),
    max: (2, 104),
};
pub const VOLUME: Range = Range {
    service: "volume",
    min: (3, 0),
    max: (3, 71),
};

/// Axum middleware for one service's routes (`from_fn_with_state`).
pub async fn refuse_unsupported(State((state, range)): State<(Shared, Range)>, req: Request, next: Next) -> Response {
    // No token, or an unknown one: the handler answers 401, as the real
    // service does before it looks at the version.
    let known = {
        let s = lock(&state);
        s.check_token(token_header(req.headers()).as_deref()).is_some()
    };
    if known {
        if let Some(refusal) = refusal(req.headers(), range) {
            let rid = lock(&state).request_id();
            return fault(refusal.0, refusal.1, &refusal.2, &rid);
        }
    }
    next.run(req).await
}

/// Why the asked-for version is refused: (status, fault kind, message).
pub fn refusal(headers: &HeaderMap, range: Range) -> Option<(StatusCode, &'static str, String)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let asked = match header("openstack-api-version") {
        Some(value) => {
            // One header may name several services: `compute 2.1, volume 3.8`.
            let ours = value.split(',').find_map(|part| {
                let mut words = part.split_whitespace();
                match (words.next(), words.next()) {
                    (Some(service), Some(version)) if service.eq_ignore_ascii_case(range.service) => Some(version),
                    _ => None,
                }
            });
            match ours {
                Some(version) => Some(version.to_string()),
                // Cinder refuses a header for another service; Nova ignores it.
                None if range.service == "volume" => return Some((
                    StatusCode::BAD_REQUEST,
                    "badRequest",
                    "The server could not comply with the request since it is either malformed or otherwise incorrect."
                        .into(),
                )),
                _ => None,
            }
        }
        None => None,
    };
    let asked = asked.or_else(|| match range.service {
        "compute" => header("x-openstack-nova-api-version").map(str::to_string),
        _ => None,
    })?;
    if asked.eq_ignore_ascii_case("latest") {
        return None;
    }
    let Some(version) = parse(&asked) else {
        return Some((
            StatusCode::BAD_REQUEST,
            "badRequest",
            format!("API Version String {asked} is of invalid format. Must be of format MajorNum.MinorNum."),
        ));
    };
    if version < range.min || version > range.max {
        let ((a, b), (c, d)) = (range.min, range.max);
        return Some((
            StatusCode::NOT_ACCEPTABLE,
            "computeFault",
            format!("Version {asked} is not supported by the API. Minimum is {a}.{b} and maximum is {c}.{d}."),
        ));
    }
    None
}

/// `MAJOR.MINOR` as the services accept it (`^([1-9]\d*)\.([1-9]\d*|0)$`):
/// digits only, no leading zero.
fn parse(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    let number = |s: &str| {
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (digits && (s == "0" || !s.starts_with('0')))
            .then(|| s.parse().ok())
            .flatten()
    };
    let major = number(major).filter(|m| *m > 0)?;
    Some((major, number(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(name: &'static str, value: &str, range: Range) -> Option<(u16, String)> {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().expect("header"));
        refusal(&h, range).map(|(s, _, m)| (s.as_u16(), m))
    }

    #[test]
    fn versions_inside_the_range_and_latest_pass() {
        assert_eq!(ask("openstack-api-version", "compute 2.40", COMPUTE), None);
        assert_eq!(ask("openstack-api-version", "compute 2.104", COMPUTE), None);
        assert_eq!(ask("x-openstack-nova-api-version", "2.1", COMPUTE), None);
        assert_eq!(ask("openstack-api-version", "volume 3.0", VOLUME), None);
        assert_eq!(ask("openstack-api-version", "volume latest", VOLUME), None);
        // Nova ignores a header that names another service.
        assert_eq!(ask("openstack-api-version", "volume 9.99", COMPUTE), None);
        // One header for several services.
        assert_eq!(ask("openstack-api-version", "compute 2.1, volume 3.8", VOLUME), None);
        assert_eq!(ask("openstack-api-version", "compute 2.1, volume 3.8", COMPUTE), None);
    }

    #[test]
    fn versions_outside_the_range_are_406_and_malformed_ones_400() {
        let too_high = ask("openstack-api-version", "compute 2.105", COMPUTE).expect("refused");
        assert_eq!(too_high.0, 406);
        assert_eq!(
            too_high.1,
            "Version 2.105 is not supported by the API. Minimum is 2.1 and maximum is 2.104."
        );
        assert_eq!(
            ask("x-openstack-nova-api-version", "2.0", COMPUTE).map(|r| r.0),
            Some(406)
        );
        assert_eq!(
            ask("openstack-api-version", "volume 2.9", VOLUME).map(|r| r.0),
            Some(406)
        );
        assert_eq!(
            ask("openstack-api-version", "volume 3.72", VOLUME).map(|r| r.0),
            Some(406)
        );
        assert_eq!(
            ask("openstack-api-version", "compute abc", COMPUTE).map(|r| r.0),
            Some(400)
        );
        assert_eq!(
            ask("openstack-api-version", "compute 9.99", VOLUME).map(|r| r.0),
            Some(400)
        );
        for malformed in ["+2.1", "2.01", "02.1", "2.", "2.1.1"] {
            let asked = ask("openstack-api-version", &format!("compute {malformed}"), COMPUTE);
            assert_eq!(asked.map(|r| r.0), Some(400), "{malformed}");
        }
    }
}

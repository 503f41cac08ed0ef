//! For each endpoint the simulator serves, its JSON has the same keys and
//! value types as the matching real response in api-samples (copied to
//! tests/fixtures/samples), by `json_shape::walk`. The same calls at the
//! microversions stackmigrate asks for, and an attached volume, are compared
//! with the live testbed's answers in tests/openstack/sim_shape.rs.

use crate::json_shape;
use serde_json::{json, Value};

/// Arrays the samples hold empty (no sample has an attached volume): the
/// simulator's attachments are compared with the live testbed's instead
/// (tests/openstack/sim_shape.rs).
const CHECKED_LIVE: &[&str] = &["attachments"];

/// Volume keys of microversions after 3.8, in the 3.71 samples: the simulator
/// answers at 3.8, as stackmigrate asks, and so does not send them (the live
/// comparison holds it to the real 3.8 answer).
const AFTER_3_8: &[&str] = &[
    "group_id",
    "provider_id",
    "shared_targets",
    "service_uuid",
    "cluster_name",
    "volume_type_id",
    "consumes_quota",
];

fn walk(path: &str, real: &Value, sim: &Value, out: &mut Vec<String>) {
    let mut found = Vec::new();
    json_shape::walk(path, real, sim, CHECKED_LIVE, &mut found);
    let newer = |p: &String| {
        p.strip_suffix(": missing in the simulator")
            .and_then(|k| k.rsplit_once('.'))
            .is_some_and(|(at, key)| at.contains("volume") && AFTER_3_8.contains(&key))
    };
    out.extend(found.into_iter().filter(|p| !newer(p)));
}

fn sample(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/samples")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("json")
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let version = match path.starts_with("/v2.1") {
            true => stackmigrate::openstack::COMPUTE_MICROVERSION,
            false => stackmigrate::openstack::VOLUME_MICROVERSION,
        };
        let mut rb = self.http.request(method, url).header("OpenStack-API-Version", version);
        if let Some(t) = token {
            rb = rb.header("X-Auth-Token", t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("send");
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        let text = resp.text().await.expect("text");
        // A body that is not JSON cannot match a sample: kept as a string.
        let json = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(format!("not JSON: {text}")));
        (status, headers, json)
    }

    async fn token(&self, user: &str, password: &str) -> (String, Value) {
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": user, "domain": {"name": "Default"}, "password": password}}}, "scope": {"project": {"name": "research", "domain": {"name": "Default"}}}}});
        let (status, headers, json) = self
            .call(reqwest::Method::POST, "/v3/auth/tokens", None, Some(body))
            .await;
        assert_eq!(status, 201);
        (
            headers
                .get("x-subject-token")
                .and_then(|v| v.to_str().ok())
                .expect("X-Subject-Token")
                .to_string(),
            json,
        )
    }
}

#[tokio::test]
async fn every_simulated_endpoint_matches_the_real_samples() {
    let (_dir, sim) = crate::demo_run::default_sim().await;
    let base = sim.config.old_cloud.auth_url.trim_end_matches("/v3").to_string();
    let c = Client {
        http: reqwest::Client::new(),
        base,
    };
    let mut problems = Vec::new();
    let mut check = |name: &str, got: &Value| {
        let mut out = Vec::new();
        walk(name, &sample(name), got, &mut out);
        problems.extend(out);
    };
    use reqwest::Method as M;
    let (admin, token_body) = c.token("admin", "adminpass").await;
    check("keystone_token_issue_demo_project.json", &token_body);
    let (op, _) = c.token("operator", "operatorpass").await;
    let project = token_body["token"]["project"]["id"]
        .as_str()
        .expect("project")
        .to_string();
    let bad = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "nope"}}}}});
    let (status, _, body) = c.call(M::POST, "/v3/auth/tokens", None, Some(bad)).await;
    assert_eq!(status, 401);
    check("keystone_error_401_bad_password.json", &body);
    check(
        "keystone_projects_list_admin.json",
        &c.call(M::GET, "/v3/projects", Some(&admin), None).await.2,
    );
    let (status, _, body) = c.call(M::GET, "/v3/projects", Some(&op), None).await;
    assert_eq!(status, 403);
    check("keystone_projects_list_demo_forbidden.json", &body);
    check(
        "keystone_auth_projects_demo_unscoped.json",
        &c.call(M::GET, "/v3/auth/projects", Some(&op), None).await.2,
    );

    let v3 = format!("/v3/{project}");
    let list = c
        .call(
            M::GET,
            &format!("{v3}/volumes/detail?all_tenants=1&project_id={project}"),
            Some(&admin),
            None,
        )
        .await
        .2;
    check("cinder_volumes_detail_admin_alltenants_v3.71.json", &list);
    let id = list["volumes"][0]["id"].as_str().expect("a volume").to_string();
    check(
        "cinder_volume_get_admin_v3.71.json",
        &c.call(M::GET, &format!("{v3}/volumes/{id}"), Some(&admin), None)
            .await
            .2,
    );
    let (status, _, body) = c
        .call(
            M::GET,
            &format!("{v3}/volumes/00000000-0000-0000-0000-000000000000"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 404);
    check("cinder_error_404_volume.json", &body);
    let (status, _, body) = c.call(M::GET, &format!("{v3}/volumes/{id}"), Some("bogus"), None).await;
    assert_eq!(status, 401);
    check("cinder_error_401_bad_token.json", &body);
    let (status, _, body) = c
        .call(M::GET, "/v3/someoneelse/volumes/detail", Some(&admin), None)
        .await;
    assert_eq!(status, 400);
    check("cinder_error_400_project_mismatch.json", &body);
    let (status, _, body) = c
        .call(
            M::POST,
            &format!("{v3}/volumes"),
            Some(&admin),
            Some(json!({"volume": {"size": 5000, "name": "huge"}})),
        )
        .await;
    assert_eq!(status, 413);
    check("cinder_error_413_quota.json", &body);
    let (status, _, body) = c
        .call(
            M::POST,
            &format!("{v3}/volumes"),
            Some(&op),
            Some(json!({"volume": {"size": 1, "name": "e2e-vol", "description": "e2e"}})),
        )
        .await;
    assert_eq!(status, 202);
    check("cinder_volume_create_v3.0.json", &body);
    let manage = json!({"volume": {"host": "sim@files#files", "ref": {"source-name": "volume-x"}, "name": "managed-1", "metadata": {"origin": "manage"}}});
    let (status, _, body) = c
        .call(
            M::POST,
            &format!("{v3}/manageable_volumes"),
            Some(&admin),
            Some(manage.clone()),
        )
        .await;
    assert_eq!(status, 202);
    check("cinder_manage_existing_v3.8.json", &body);
    let (status, _, body) = c
        .call(M::POST, &format!("{v3}/manageable_volumes"), Some(&op), Some(manage))
        .await;
    assert_eq!(status, 403);
    check("cinder_error_403_manage_as_member.json", &body);
    check(
        "cinder_quota_set_demo_usage.json",
        &c.call(
            M::GET,
            &format!("{v3}/os-quota-sets/{project}?usage=true"),
            Some(&admin),
            None,
        )
        .await
        .2,
    );
    check(
        "cinder_scheduler_stats_get_pools_detail.json",
        &c.call(
            M::GET,
            &format!("{v3}/scheduler-stats/get_pools?detail=true"),
            Some(&admin),
            None,
        )
        .await
        .2,
    );
    check(
        "cinder_manageable_volumes_detail_v3.8.json",
        &c.call(
            M::GET,
            &format!("{v3}/manageable_volumes/detail?host=x"),
            Some(&admin),
            None,
        )
        .await
        .2,
    );

    let usage = "/v2.1/os-simple-tenant-usage";
    let period = "start=2025-01-01T00:00:00&end=2025-07-01T00:00:00&detailed=1";
    check(
        "06-show-projA-range.json",
        &c.call(M::GET, &format!("{usage}/{project}?{period}"), Some(&admin), None)
            .await
            .2,
    );
    check(
        "03-list-detailed.json",
        &c.call(M::GET, &format!("{usage}?{period}"), Some(&admin), None).await.2,
    );
    check(
        "31-mv240-list-detailed-limit2.json",
        &c.call(M::GET, &format!("{usage}?{period}&limit=2"), Some(&admin), None)
            .await
            .2,
    );
    check(
        "08-show-unknown-project.json",
        &c.call(M::GET, &format!("{usage}/nosuchproject?{period}"), Some(&admin), None)
            .await
            .2,
    );
    let (status, _, body) = c.call(M::GET, &format!("{usage}?{period}"), Some(&op), None).await;
    assert_eq!(status, 403);
    check("61-nonadmin-list.json", &body);
    let (status, _, body) = c
        .call(
            M::GET,
            &format!("{usage}?start=2025-03-01T00:00:00&end=2025-02-01T00:00:00"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 400);
    check("57-start-after-end.json", &body);
    assert!(
        problems.is_empty(),
        "simulator differs from the real services:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_walker_catches_differences() {
    let mut out = Vec::new();
    walk(
        "x",
        &json!({"a": 1, "b": "s", "m": {"metadata": {"k": "v"}}, "n": null, "s": "t", "o": {"k": 1}, "e": [], "attachments": []}),
        &json!({"a": "1", "c": true, "m": {"metadata": {"other": "v"}}, "n": 2, "s": null, "o": null, "e": [1], "attachments": [{"x": 1}]}),
        &mut out,
    );
    assert_eq!(out.len(), 5, "{out:?}");
    assert!(out.iter().any(|o| o.contains("x.b: missing")));
    assert!(out.iter().any(|o| o.contains("x.c: not in the real")));
    assert!(out
        .iter()
        .any(|o| o.contains("x.a: number in the real response, string")));
    assert!(out.iter().any(|o| o.contains("x.o: object in the real response, null")));
    assert!(out.iter().any(|o| o.contains("x.e: empty in the real response")));
    // A body that is not JSON is kept as a string, which no sample matches.
    let mut out = Vec::new();
    walk("y", &json!({"error": {}}), &json!("not JSON: <html>"), &mut out);
    assert_eq!(out.len(), 1, "{out:?}");
}

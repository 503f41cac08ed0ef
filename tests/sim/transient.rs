//! GETs are tried again on 502/503/504 (3 tries in all); other methods are
//! not, since repeating a create could make two volumes. The session logs in
//! to the simulated Keystone; the flaky endpoint is a small server here.

use axum::http::{Method as HttpMethod, StatusCode};
use axum::routing::any;
use reqwest::Method;
use stackmigrate::openstack::{Call, OpenStackError, Service, Session};
use stackmigrate::sim::{SimClouds, SimOptions};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Answers `failures` times with `status`, then 200 `{"ok": true}`; counts requests.
async fn flaky(failures: u32, status: StatusCode) -> (String, Arc<AtomicU32>) {
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let app = axum::Router::new().route(
        "/thing",
        any(move |_m: HttpMethod| {
            let counter = counter.clone();
            async move {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                if n < failures {
                    (status, "{\"message\": \"try later\"}".to_string())
                } else {
                    (StatusCode::OK, "{\"ok\": true}".to_string())
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/thing"), seen)
}

async fn session(dir: &std::path::Path) -> (SimClouds, Session) {
    let sim = SimClouds::start(SimOptions {
        dir: dir.to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("sim");
    let s = Session::new("old", &sim.config.old_cloud).expect("session");
    (sim, s)
}

#[tokio::test]
async fn a_get_meeting_two_503s_succeeds_on_the_third_try() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_sim, s) = session(dir.path()).await;
    let (url, seen) = flaky(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let v: serde_json::Value = s
        .json(&Call::new(Service::BlockStorage, Method::GET, url))
        .await
        .expect("third try answers");
    assert_eq!(v["ok"], true);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_get_failing_three_times_reports_the_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_sim, s) = session(dir.path()).await;
    let (url, seen) = flaky(3, StatusCode::BAD_GATEWAY).await;
    let e = s
        .json::<serde_json::Value>(&Call::new(Service::BlockStorage, Method::GET, url))
        .await
        .expect_err("three 502s");
    assert!(matches!(&e, OpenStackError::Api(a) if a.status == 502), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 3, "3 tries in all");
}

#[tokio::test]
async fn a_post_is_not_repeated() {
    let dir = tempfile::tempdir().expect("tmp");
    let (_sim, s) = session(dir.path()).await;
    let (url, seen) = flaky(1, StatusCode::SERVICE_UNAVAILABLE).await;
    let call = Call::new(Service::BlockStorage, Method::POST, url).body(serde_json::json!({"volume": {}}));
    let e = s.json::<serde_json::Value>(&call).await.expect_err("503");
    assert!(matches!(&e, OpenStackError::Api(a) if a.status == 503), "{e}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "a create is never sent twice");
}

#[tokio::test]
async fn a_login_meeting_two_500s_is_tried_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let (sim, s) = session(dir.path()).await;
    sim.old.lock().expect("lock").failing_logins = 2;
    s.token().await.expect("the third login works");
    let state = sim.old.lock().expect("lock");
    assert_eq!((state.failing_logins, state.tokens_issued), (0, 1));
}

#[tokio::test]
async fn a_login_failing_three_times_names_keystone_and_the_status() {
    let dir = tempfile::tempdir().expect("tmp");
    let (sim, s) = session(dir.path()).await;
    sim.old.lock().expect("lock").failing_logins = 3;
    let e = s.token().await.expect_err("three 500s");
    assert!(
        matches!(&e, OpenStackError::Auth { error, .. } if error.status == 500),
        "{e}"
    );
    assert_eq!(sim.old.lock().expect("lock").failing_logins, 0, "3 tries in all");
}

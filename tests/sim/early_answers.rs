//! What a run is given ahead: a token refreshed before it expires, and the
//! clusters' answers asked for while the project is listed.

use crate::demo_run::prepare;
use stackmigrate::openstack::Session;
use std::time::Duration;

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    sim.old.lock().expect("lock").token_lifetime = chrono::Duration::seconds(4);
    let s = Session::new("old", &sim.config.old_cloud).expect("session");
    let first = s.token().await.expect("token");
    assert_eq!(s.token().await.expect("token").value, first.value, "reused while fresh");
    // Past lifetime minus the margin (a quarter of 4 s), still before expiry.
    tokio::time::sleep(Duration::from_millis(3300)).await;
    let second = s.token().await.expect("token");
    assert_ne!(second.value, first.value, "refreshed before it expired");
    assert!(second.expires_at > first.expires_at);
    assert!(chrono::Utc::now() < first.expires_at, "the old one had not expired yet");
    assert_eq!(sim.old.lock().expect("lock").tokens_issued, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_flight_takes_the_clusters_answers_asked_early() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let (setup, volumes) = prepare(&sim.config).await;
    // The new cluster's real answer, a made-up failure for the old one: reported, not asked again.
    let [_, new] = stackmigrate::engine::ask_clusters_early(&sim.config).expect("block stores");
    let old = tokio::spawn(async {
        Err(stackmigrate::storage::RbdError::Other {
            op: "ls".into(),
            code: Some(5),
            stderr: "the answer asked early".into(),
        })
    });
    *setup.early_clusters.lock().expect("lock") = Some([old, new]);
    let cancel = tokio_util::sync::CancellationToken::new();
    let checks = setup.preflight(&sim.config, &volumes, &cancel, None).await;
    let text = |ok: bool, what: &str| checks.iter().any(|c| c.ok == ok && c.text.contains(what));
    assert!(text(false, "the answer asked early"), "{checks:?}");
    assert!(text(true, "reaches the new cluster"), "{checks:?}");
    // Taken once: a second pre-flight (the plan screen's retry) asks the clusters itself.
    let again = setup.preflight(&sim.config, &volumes, &cancel, None).await;
    assert!(again.iter().all(|c| c.ok), "{again:?}");
}

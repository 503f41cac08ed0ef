//! An in-use volume attached to the testbed's real Nova servers, whose
//! status Nova gives: r-db-1 is ACTIVE, r-cold-1 SHUTOFF. Attached to the
//! stopped one only, the plan copies it in one pass; attached to the running
//! one, it is warm-synced and the cutover is refused, naming the server and
//! its status; once its only server is the stopped one, the cutover goes
//! ahead although the volume is still `in-use`.

use super::warm_sync::{check_cut_over, remove_source};
use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::Nova;

/// The id of the research project's server `name`, from Nova.
async fn server_id(tb: &Testbed, name: &str) -> String {
    let servers = Nova::new(&tb.operator("old"))
        .list_servers(None)
        .await
        .expect("servers");
    servers
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("the testbed seeds {name}"))
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_status_decides_the_plan_and_the_cutover() {
    let tb = Testbed::get();
    let (running, stopped) = (server_id(&tb, "r-db-1").await, server_id(&tb, "r-cold-1").await);
    let v = source_volume(&tb, &unique("real srv"), 1, &[(0, noise(97, 1 << 20))], false).await;
    let op = tb.operator("old");
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();

    // Attached to a stopped server only: nothing can write, one verified pass.
    attach(&op, &v.id, &stopped).await;
    let plan = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--dry-run"]), 0);
    assert!(
        plan.contains("attached: r-cold-1 (SHUTOFF)): one pass, verified"),
        "{plan}"
    );
    detach(&op, &v.id).await;

    // Attached to a running server: warm sync, and the cutover is refused.
    attach(&op, &v.id, &running).await;
    let plan = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--dry-run"]), 0);
    assert!(
        plan.contains("attached: r-db-1 (ACTIVE)): warm sync in rounds"),
        "{plan}"
    );
    let out = expect_code(&migrate(dir.path(), &cfg, &v.id, &[]), 3);
    assert!(out.contains("synced"), "{out}");
    let refused = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 2);
    assert!(
        refused.contains(&format!(
            "cutover refused: the source is still attached to a server that may write: server r-db-1 ({running}) is ACTIVE"
        )),
        "{refused}"
    );

    // Its only server is now the stopped one: still in-use, and cut over.
    detach(&op, &v.id).await;
    attach(&op, &v.id, &stopped).await;
    let done = expect_code(&migrate(dir.path(), &cfg, &v.id, &["--cutover"]), 0);
    assert!(done.contains("cut over") && !done.contains("FORCED"), "{done}");
    check_cut_over(&tb, &v.id).await;
    remove_source(&tb, &v.id).await;
}

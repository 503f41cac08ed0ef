//! nova-api behind real keystonemiddleware: servers and os-simple-tenant-usage
//! at 2.40 with paging, against the seeded history.

use crate::testbed::Testbed;
use chrono::NaiveDateTime;
use stackmigrate::openstack::Nova;

fn t(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").expect("time")
}

#[tokio::test]
async fn project_usage_matches_the_seeded_history_and_paging_changes_nothing() {
    let tb = Testbed::get();
    let s = tb.operator("old");
    let nova = Nova::new(&s);
    let research = tb.var("OLD_RESEARCH_ID");
    let (start, end) = (t("2025-01-01T00:00:00"), t("2025-07-01T00:00:00"));
    let u = nova.usage_show(&research, &start, &end, None).await.expect("usage");
    assert_eq!(u.tenant_id, research);
    assert_eq!(
        (
            u.total_hours,
            u.total_vcpus_usage,
            u.total_memory_mb_usage,
            u.total_local_gb_usage
        ),
        (5208.0, 16068.0, 32907264.0, 357360.0)
    );
    assert_eq!(u.server_usages.len(), 3);
    let mut paged = nova
        .usage_show(&research, &start, &end, Some(1))
        .await
        .expect("paged usage");
    // `uptime` of the running server grows between the two calls.
    let mut u = u;
    for s in paged.server_usages.iter_mut().chain(u.server_usages.iter_mut()) {
        s.as_object_mut().map(|o| o.remove("uptime"));
    }
    assert_eq!(paged, u, "limit=1 pages merge to the unpaged answer");
}

#[tokio::test]
async fn the_all_tenants_list_is_admin_only() {
    let tb = Testbed::get();
    let (start, end) = (t("2025-01-01T00:00:00"), t("2025-07-01T00:00:00"));
    let admin = tb.admin("old");
    let all = Nova::new(&admin)
        .usage_list(&start, &end, Some(1))
        .await
        .expect("admin list");
    let other = all
        .iter()
        .find(|u| u.tenant_id == tb.var("OLD_OTHER_ID"))
        .expect("other listed");
    assert_eq!(other.total_hours, 4287.5);
    assert!(all.iter().any(|u| u.tenant_id == tb.var("OLD_RESEARCH_ID")));
    let op = tb.operator("old");
    let e = Nova::new(&op)
        .usage_list(&start, &end, None)
        .await
        .expect_err("403 for a member");
    let api = e.api().expect("api error");
    assert_eq!((api.status, api.kind.as_deref()), (403, Some("forbidden")));
}

#[tokio::test]
async fn start_after_end_is_a_400_with_nova_s_message() {
    let tb = Testbed::get();
    let s = tb.operator("old");
    let e = Nova::new(&s)
        .usage_show(
            &tb.var("OLD_RESEARCH_ID"),
            &t("2025-03-01T00:00:00"),
            &t("2025-02-01T00:00:00"),
            None,
        )
        .await
        .expect_err("400");
    let api = e.api().expect("api error");
    assert_eq!((api.status, api.kind.as_deref()), (400, Some("badRequest")), "{api}");
}

#[tokio::test]
async fn servers_of_the_project_are_listed() {
    let tb = Testbed::get();
    let admin = tb.admin("old");
    let servers = Nova::new(&admin)
        .list_servers(Some(&tb.var("OLD_RESEARCH_ID")))
        .await
        .expect("servers");
    assert!(servers.iter().any(|s| s.name == "r-db-1"), "{servers:?}");
    assert!(
        !servers.iter().any(|s| s.name == "o-gpu-1"),
        "other project's server filtered out"
    );
}

/// Nova's own statuses, as the plan and the cutover's precondition read
/// them: the detailed listing and one server by id, for the project's
/// member (the testbed's Nova answers these without Neutron; see
/// `testbed/lib/nova_api_wsgi.py`).
#[tokio::test]
async fn servers_come_with_their_status_in_detail_and_by_id() {
    let tb = Testbed::get();
    let op = tb.operator("old");
    let nova = Nova::new(&op);
    let detail = nova.list_servers_raw(None).await.expect("servers/detail");
    let status = |name: &str| {
        detail
            .iter()
            .find(|v| v["name"] == name)
            .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v["status"].clone()))
            .unwrap_or_else(|| panic!("{name} in {detail:?}"))
    };
    let (db, db_status) = status("r-db-1");
    let (cold, cold_status) = status("r-cold-1");
    assert_eq!(
        (db_status.as_str(), cold_status.as_str()),
        (Some("ACTIVE"), Some("SHUTOFF"))
    );
    let one = nova.get_server(&cold).await.expect("by id");
    assert_eq!(
        (one.name.as_str(), one.status.as_deref()),
        ("r-cold-1", Some("SHUTOFF"))
    );
    assert_eq!(
        nova.get_server(&db).await.expect("by id").status.as_deref(),
        Some("ACTIVE")
    );
}

//! Cinder against the real API: create/get/list/delete, paging, metadata,
//! bootable and image metadata, quota usage, a 413, a 404 and the waits.

use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::{Cinder, NewVolume, OpenStackError};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn create_list_page_update_and_delete() {
    let tb = Testbed::get();
    let s = tb.operator("old");
    let c = Cinder::new(&s);
    let name = unique("vol");
    let mut ids = Vec::new();
    for i in 0..3 {
        let v = c
            .create_volume(&NewVolume {
                size: 1,
                name: Some(format!("{name}-{i}")),
                description: Some("integration test".into()),
                metadata: BTreeMap::from([("purpose".to_string(), "test".to_string())]),
                ..Default::default()
            })
            .await
            .expect("create");
        ids.push(v.id);
    }
    for id in &ids {
        let v = c.wait_for_status(id, &["available"], WAIT).await.expect("available");
        assert_eq!(v.size, 1);
        assert_eq!(v.metadata.get("purpose").map(String::as_str), Some("test"));
    }
    c.set_bootable(&ids[0], true).await.expect("bootable");
    let image_meta = BTreeMap::from([("os_distro".to_string(), "debian".to_string())]);
    c.set_image_metadata(&ids[0], &image_meta)
        .await
        .expect("image metadata");
    c.set_metadata(
        &ids[0],
        &BTreeMap::from([("stackmigrate.state".to_string(), "verified".to_string())]),
    )
    .await
    .expect("metadata");
    let v = c.get_volume(&ids[0]).await.expect("get");
    assert!(v.bootable, "bootable arrives as the string \"true\"");
    assert_eq!(
        v.volume_image_metadata
            .as_ref()
            .and_then(|m| m.get("os_distro"))
            .map(String::as_str),
        Some("debian")
    );
    assert_eq!(
        v.metadata.get("stackmigrate.state").map(String::as_str),
        Some("verified")
    );
    assert_eq!(
        v.metadata.get("purpose").map(String::as_str),
        Some("test"),
        "metadata is merged, not replaced"
    );

    // Admin-style listing of another project, one volume per page.
    let admin = tb.admin("old");
    let research = tb.var("OLD_RESEARCH_ID");
    let all = Cinder::new(&admin)
        .list_volumes_paged(Some(&research), None)
        .await
        .expect("admin list");
    let paged = Cinder::new(&admin)
        .list_volumes_paged(Some(&research), Some(1))
        .await
        .expect("paged list");
    // Other test binaries create and delete volumes in this project at the same time, so the two
    // listings are compared on this test's own volumes; across all of them, paging must neither
    // repeat a volume nor lose one of ours.
    let mine = |list: &[serde_json::Value]| -> Vec<String> {
        let mut v: Vec<String> = list
            .iter()
            .filter(|v| v["name"].as_str().is_some_and(|n| n.starts_with(&name)))
            .map(|v| v["id"].as_str().unwrap_or_default().to_string())
            .collect();
        v.sort();
        v
    };
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(mine(&all), expected, "the unpaged list holds our three volumes");
    assert_eq!(mine(&paged), expected, "following volumes_links gives the same volumes");
    let mut seen = std::collections::BTreeSet::new();
    for v in &paged {
        assert!(
            seen.insert(v["id"].to_string()),
            "{} listed twice across pages",
            v["id"]
        );
    }
    let own = c.list_volumes(None).await.expect("member list");
    assert!(ids.iter().all(|id| own.iter().any(|v| &v.id == id)));

    for id in &ids {
        c.delete_volume(id).await.expect("delete");
    }
    for id in &ids {
        c.wait_deleted(id, WAIT).await.expect("deleted");
    }
}

#[tokio::test]
async fn quota_usage_and_a_413_over_quota() {
    let tb = Testbed::get();
    let s = tb.operator("new");
    let c = Cinder::new(&s);
    let q = c.quota_usage(&tb.var("NEW_RESEARCH_ID")).await.expect("quota");
    assert_eq!(q.gigabytes.limit, 1000);
    assert_eq!(q.volumes.limit, 100);
    let e = c
        .create_volume(&NewVolume {
            size: 5000,
            name: Some(unique("too-big")),
            ..Default::default()
        })
        .await
        .expect_err("over quota");
    let api = e.api().expect("an API error");
    assert_eq!(api.status, 413);
    assert_eq!(api.kind.as_deref(), Some("overLimit"));
    assert!(
        api.message.contains("VolumeSizeExceedsAvailableQuota"),
        "{}",
        api.message
    );
    assert!(
        api.request_id.as_deref().is_some_and(|r| r.starts_with("req-")),
        "{api:?}"
    );
}

#[tokio::test]
async fn a_missing_volume_is_a_typed_404() {
    let tb = Testbed::get();
    let s = tb.operator("old");
    let e = Cinder::new(&s)
        .get_volume("00000000-0000-0000-0000-000000000000")
        .await
        .expect_err("404");
    match e {
        OpenStackError::Api(api) => {
            assert!(api.is_not_found());
            assert_eq!(api.kind.as_deref(), Some("itemNotFound"));
            assert!(api.to_string().contains("old cloud: GET http://127.0.0.1"), "{api}");
        }
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn waiting_times_out_with_the_last_status() {
    let tb = Testbed::get();
    let s = tb.operator("old");
    let c = Cinder::new(&s);
    let v = c
        .create_volume(&NewVolume {
            size: 1,
            name: Some(unique("wait")),
            ..Default::default()
        })
        .await
        .expect("create");
    c.wait_for_status(&v.id, &["available"], WAIT).await.expect("available");
    let e = c
        .wait_for_status(&v.id, &["in-use"], Duration::from_secs(1))
        .await
        .expect_err("never in-use");
    assert!(
        matches!(e, OpenStackError::WaitTimeout { ref status, .. } if status == "available"),
        "{e}"
    );
    c.delete_volume(&v.id).await.expect("delete");
}

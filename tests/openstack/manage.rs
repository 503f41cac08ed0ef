//! Manage-existing end to end on the new cloud: an image imported with rbd
//! under a temporary name is adopted by Cinder into the research project and
//! renamed to volume-<id>. A bad reference is accepted (202) and the volume
//! then goes to `error`: the wait must say so distinctly.

use crate::testbed::{unique, Testbed};
use stackmigrate::openstack::{Cinder, NewVolume, OpenStackError};
use stackmigrate::storage::RbdCli;
use std::time::Duration;

#[tokio::test]
async fn manage_existing_adopts_an_imported_image() {
    let tb = Testbed::get();
    let cfg = tb.admin_config();
    let ceph = cfg.new_cloud.ceph.clone().expect("ceph");
    let rbd = RbdCli::new(&ceph);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("img");
    let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write");
    let f = std::fs::OpenOptions::new().write(true).open(&file).expect("open");
    f.set_len(1 << 30).expect("1 GiB sparse");
    let tmp_name = unique("import");
    let target = format!("{}/{tmp_name}", ceph.pool);
    rbd.run(
        "import",
        &["import", "--no-progress", &file.display().to_string(), &target],
    )
    .await
    .expect("rbd import");

    // The admin's token must be scoped to the target project.
    let admin = tb.admin("new").rescoped(&tb.var("NEW_RESEARCH_ID"));
    let c = Cinder::new(&admin);
    let pool = c.pool_for_rados(&ceph.pool).await.expect("pool");
    assert_eq!(pool.name, tb.var("NEW_CINDER_HOST"));
    let host = pool.name.split('#').next().expect("host");
    let listed = c.manageable(host).await.expect("manageable");
    let entry = listed
        .iter()
        .find(|m| m.source_name() == Some(tmp_name.as_str()))
        .expect("listed");
    assert!(entry.safe_to_manage, "{entry:?}");
    assert_eq!(entry.size, 1);

    let v = c
        .manage_existing(
            &pool.name,
            &tmp_name,
            &NewVolume {
                name: Some("managed".into()),
                description: Some("adopted".into()),
                ..Default::default()
            },
        )
        .await
        .expect("manage");
    let v = c
        .wait_for_status(&v.id, &["available"], Duration::from_secs(60))
        .await
        .expect("available");
    assert_eq!(v.size, 1);
    assert_eq!(v.project_id.as_deref(), Some(tb.var("NEW_RESEARCH_ID").as_str()));
    let images = rbd.ls().await.expect("ls");
    assert!(images.contains(&format!("volume-{}", v.id)), "renamed: {images:?}");
    assert!(!images.contains(&tmp_name), "temporary name gone: {images:?}");
    // The operator (member) sees it in research.
    let op = tb.operator("new");
    assert!(Cinder::new(&op)
        .list_volumes(None)
        .await
        .expect("list")
        .iter()
        .any(|x| x.id == v.id));
    c.delete_volume(&v.id).await.expect("delete");
    c.wait_deleted(&v.id, Duration::from_secs(60)).await.expect("deleted");
}

#[tokio::test]
async fn a_bad_reference_ends_in_a_distinct_volume_error() {
    let tb = Testbed::get();
    let admin = tb.admin("new").rescoped(&tb.var("NEW_RESEARCH_ID"));
    let c = Cinder::new(&admin);
    let v = c
        .manage_existing(
            &tb.var("NEW_CINDER_HOST"),
            &unique("no-such-image"),
            &NewVolume::default(),
        )
        .await
        .expect("Cinder accepts the request");
    let e = c
        .wait_for_status(&v.id, &["available"], Duration::from_secs(60))
        .await
        .expect_err("goes to error");
    assert!(
        matches!(e, OpenStackError::VolumeError { ref status, .. } if status == "error"),
        "{e}"
    );
    c.delete_volume(&v.id).await.expect("delete the errored volume");
}

#[tokio::test]
async fn a_member_may_not_manage() {
    let tb = Testbed::get();
    let op = tb.operator("new");
    let e = Cinder::new(&op)
        .manage_existing(&tb.var("NEW_CINDER_HOST"), "anything", &NewVolume::default())
        .await
        .expect_err("403");
    assert_eq!(e.status(), Some(403), "{e}");
}

#[tokio::test]
async fn may_manage_asks_the_policy_without_managing_anything() {
    let tb = Testbed::get();
    let host = tb.var("NEW_CINDER_HOST");
    let op = tb.operator("new");
    assert!(!Cinder::new(&op).may_manage(&host).await.expect("member: 403"));
    let admin = tb.admin("new").rescoped(&tb.var("NEW_RESEARCH_ID"));
    let c = Cinder::new(&admin);
    assert!(c.may_manage(&host).await.expect("admin: past the policy"));
}

//! The simulated clouds against the live testbed, at the microversions
//! stackmigrate asks for (`volume 3.8`, `compute 2.40`): an attached volume
//! and the servers, which the recorded samples do not hold (every sample's
//! `attachments` is empty, and they were taken at `volume 3.71`). Servers
//! are compared in all three views stackmigrate reads: brief (its fallback),
//! detailed and one by id, as the admin sees them (the simulator's user).

use crate::fixtures::{attach, detach};
use crate::json_shape::walk;
use crate::testbed::{unique, Testbed};
use reqwest::Method;
use serde_json::{json, Value};
use stackmigrate::config::{AuthMethod, CloudConfig, Secret};
use stackmigrate::openstack::{
    Call, Cinder, Keystone, NewVolume, Nova, OpenStackError, Service, Session, VOLUME_MICROVERSION,
};
use stackmigrate::sim::{SimClouds, SimOptions};
use std::time::Duration;

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list:?}"))
}

#[tokio::test]
async fn the_simulated_clouds_answer_like_the_real_ones() {
    let tb = Testbed::get();
    let admin = tb.admin("old");
    let research = tb.var("OLD_RESEARCH_ID");
    let op = tb.operator("old");
    let cinder = Cinder::new(&op);
    let name = unique("shape");
    let vol = cinder
        .create_volume(&NewVolume {
            size: 1,
            name: Some(name.clone()),
            ..Default::default()
        })
        .await
        .expect("create");
    cinder
        .wait_for_status(&vol.id, &["available"], Duration::from_secs(60))
        .await
        .expect("available");
    attach(&op, &vol.id, "4f1c9a0e-2b7d-4c55-9e61-0d3a8b5c7e21").await;
    let real_refusal = answer(
        cinder
            .delete_volume(&vol.id)
            .await
            .expect_err("an attached volume is kept"),
    );
    let real_volumes = Cinder::new(&admin).list_volumes_raw(Some(&research)).await;
    let real_member = cinder.list_volumes_raw(None).await;
    let nova = Nova::new(&admin);
    let real_brief = nova.list_servers_brief_raw(Some(&research)).await;
    let real_detail = nova
        .list_servers_raw(Some(&research))
        .await
        .expect("real servers in detail");
    let real_one = nova
        .get_server_raw(named(&real_detail, "r-db-1")["id"].as_str().expect("id"))
        .await
        .expect("real server by id");
    detach(&op, &vol.id).await;
    cinder.delete_volume(&vol.id).await.expect("delete");
    let real_volumes = real_volumes.expect("real volumes");
    let real_volume = named(&real_volumes, &name);
    let real_member = real_member.expect("real volumes, as a member");
    let real_member = named(&real_member, &name);
    assert_eq!(
        real_volume["attachments"].as_array().map(Vec::len),
        Some(1),
        "{real_volume}"
    );
    let real_brief = real_brief.expect("real servers");
    assert!(!real_brief.is_empty(), "the testbed seeds servers");

    let dir = tempfile::tempdir().expect("tmp");
    let sim = start_sim(dir.path()).await;
    let s = Session::new("old", &sim.config.old_cloud).expect("session");
    let project = Keystone::new(&s).find_project("research").await.expect("project");
    let volumes = Cinder::new(&s)
        .list_volumes_raw(Some(&project.id))
        .await
        .expect("volumes");
    let sim_nova = Nova::new(&s);
    let brief = sim_nova.list_servers_brief_raw(Some(&project.id)).await.expect("brief");
    let detail = sim_nova.list_servers_raw(Some(&project.id)).await.expect("detail");
    let active = detail
        .iter()
        .find(|v| v["status"] == "ACTIVE")
        .expect("a running server");
    let one = sim_nova
        .get_server_raw(active["id"].as_str().expect("id"))
        .await
        .expect("by id");

    let mut problems = Vec::new();
    let attached: Vec<&Value> = volumes
        .iter()
        .filter(|v| v["attachments"].as_array().is_some_and(|a| !a.is_empty()))
        .collect();
    assert!(!attached.is_empty(), "the demo has attached volumes");
    // Cinder refuses to delete an attached volume; so does the simulator, in the same words.
    let in_use = attached[0]["id"].as_str().expect("id");
    let refused = Cinder::new(&s)
        .delete_volume(in_use)
        .await
        .expect_err("an attached volume is kept");
    assert_eq!(answer(refused), real_refusal);
    for v in volumes.iter() {
        walk(&format!("volume {}", v["name"]), real_volume, v, &[], &mut problems);
    }
    // A member sees neither the host nor the migration keys.
    let member = Session::new("old", &as_operator(&sim.config.old_cloud)).expect("session");
    let member_volumes = Cinder::new(&member).list_volumes_raw(None).await.expect("volumes");
    assert!(!member_volumes.is_empty(), "the demo's research volumes");
    for v in &member_volumes {
        walk(
            &format!("volume (member) {}", v["name"]),
            real_member,
            v,
            &[],
            &mut problems,
        );
    }
    for v in &brief {
        walk(
            &format!("server (brief) {}", v["name"]),
            &real_brief[0],
            v,
            &[],
            &mut problems,
        );
    }
    assert!(
        detail.iter().any(|v| v["status"] == "SHUTOFF") && detail.iter().any(|v| v["status"] == "ACTIVE"),
        "the demo has running and stopped servers"
    );
    // Nova's keys differ by status (`progress` only while ACTIVE, ...): each
    // simulated server against a real one in the same status.
    for v in &detail {
        let real = real_detail
            .iter()
            .find(|r| r["status"] == v["status"])
            .unwrap_or_else(|| panic!("a real server {} in {real_detail:?}", v["status"]));
        walk(&format!("server (detail) {}", v["name"]), real, v, &[], &mut problems);
    }
    walk("server (by id)", &real_one, &one, &[], &mut problems);
    assert!(
        problems.is_empty(),
        "the simulator differs from the real services:\n{}",
        problems.join("\n")
    );
}

/// The simulated cloud `cfg` as its operator (a member of research) logs in.
fn as_operator(cfg: &CloudConfig) -> CloudConfig {
    let mut member = cfg.clone();
    if let AuthMethod::Password { username, password, .. } = &mut member.auth {
        *username = "operator".into();
        *password = Secret::new("operatorpass");
    }
    member
}

/// What Cinder answers to a volume asked for with a type it does not have.
async fn refusal(s: &Session) -> (u16, Option<String>, String) {
    let e = Cinder::new(s)
        .create_volume(&NewVolume {
            size: 1,
            name: Some("typed".into()),
            volume_type: Some("no-such-type".into()),
            ..Default::default()
        })
        .await
        .expect_err("an unknown type is refused");
    answer(e)
}

/// A refusal as status, error kind and message.
fn answer(e: OpenStackError) -> (u16, Option<String>, String) {
    let api = e.api().cloned().expect("an API error");
    (api.status, api.kind, api.message)
}

/// The simulated clouds with default options, their files under `dir`.
async fn start_sim(dir: &std::path::Path) -> SimClouds {
    SimClouds::start(SimOptions {
        dir: dir.to_path_buf(),
        ..Default::default()
    })
    .await
    .expect("sim")
}

/// `GET /types` as a member sees it (and the admin), the refusal of a volume
/// asked for with a type the cloud does not have, and of a member's pools
/// listing: same keys, same status, same error kind and message.
#[tokio::test]
async fn volume_types_and_an_unknown_types_refusal_match_the_real_cinder() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start_sim(dir.path()).await;
    let types_call = Call::new(Service::BlockStorage, Method::GET, "/types")
        .query("is_public", "None")
        .microversion(VOLUME_MICROVERSION);
    let sim_admin = Session::new("new", &sim.config.new_cloud).expect("session");
    let sim_member = Session::new("new", &as_operator(&sim.config.new_cloud)).expect("session");
    let mut problems = Vec::new();
    // Pools (manage's host) are the admin's: a member gets Cinder's 403.
    let pools_refused =
        |s: Session| async move { answer(Cinder::new(&s).pools().await.expect_err("a member may not list pools")) };
    let sim_member_again = Session::new("new", &as_operator(&sim.config.new_cloud)).expect("session");
    assert_eq!(
        pools_refused(tb.operator("new")).await,
        pools_refused(sim_member_again).await
    );
    for (who, real, simulated) in [
        ("admin", tb.admin("new"), sim_admin),
        ("member", tb.operator("new"), sim_member),
    ] {
        let real_types: Value = real.json(&types_call).await.expect("real types");
        let sim_types: Value = simulated.json(&types_call).await.expect("simulated types");
        walk(&format!("types ({who})"), &real_types, &sim_types, &[], &mut problems);
        assert_eq!(refusal(&real).await, refusal(&simulated).await, "{who}");
    }
    assert!(
        problems.is_empty(),
        "the simulator differs from the real services:\n{}",
        problems.join("\n")
    );
}

/// The calls that carry a copy's state in Cinder (`stackmigrate.*` metadata)
/// and the source's boot flags: status and body, simulated against real, for
/// the member a `replace` run uses.
#[tokio::test]
async fn metadata_and_volume_actions_answer_like_the_real_cinder() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start_sim(dir.path()).await;
    let member = Session::new("new", &as_operator(&sim.config.new_cloud)).expect("session");
    let mut answers = Vec::new();
    for s in [tb.operator("new"), member] {
        let c = Cinder::new(&s);
        let v = c
            .create_volume(&NewVolume {
                size: 1,
                name: Some(unique("meta")),
                ..Default::default()
            })
            .await
            .expect("create");
        c.wait_for_status(&v.id, &["available"], Duration::from_secs(60))
            .await
            .expect("available");
        let calls = [
            ("metadata", json!({"metadata": {"stackmigrate.state": "verified"}})),
            ("action", json!({"os-set_bootable": {"bootable": true}})),
            (
                "action",
                json!({"os-set_image_metadata": {"metadata": {"hw_disk_bus": "scsi"}}}),
            ),
        ];
        let mut got = Vec::new();
        for (path, body) in calls {
            let call = Call::new(Service::BlockStorage, Method::POST, format!("/volumes/{}/{path}", v.id))
                .body(body)
                .microversion(VOLUME_MICROVERSION);
            let resp = s.send(&call).await.expect("answered");
            let status = resp.status().as_u16();
            let text = resp.text().await.expect("body");
            let body: Value = match text.is_empty() {
                true => Value::String("(empty)".into()),
                false => serde_json::from_str(&text).unwrap_or_else(|_| Value::String(format!("not JSON: {text}"))),
            };
            got.push((status, body));
        }
        let seen = c.get_volume(&v.id).await.expect("get");
        got.push((0, json!([seen.bootable, seen.metadata.get("stackmigrate.state")])));
        c.delete_volume(&v.id).await.expect("delete");
        answers.push(got);
    }
    let (real, simulated) = (&answers[0], &answers[1]);
    let mut problems = Vec::new();
    let calls = real.len() - 1;
    for (i, ((rs, rb), (ss, sb))) in real.iter().zip(simulated).take(calls).enumerate() {
        if rs != ss {
            problems.push(format!("call {i}: status {rs} real, {ss} simulated"));
        }
        // `walk` lets a null stand for a string: an empty body must be empty.
        if (rb == "(empty)") != (sb == "(empty)") {
            problems.push(format!("call {i}: body {rb} real, {sb} simulated"));
        }
        walk(&format!("call {i}"), rb, sb, &[], &mut problems);
    }
    assert_eq!(real.last(), simulated.last(), "the volume after the calls");
    assert!(
        problems.is_empty(),
        "{}\nreal: {real:?}\nsimulated: {simulated:?}",
        problems.join("\n")
    );
}

/// A microversion outside a service's range, or malformed, or naming another
/// service: the same status and fault as the real Nova and Cinder, and the
/// versions stackmigrate asks for (and `latest`) pass.
#[tokio::test]
async fn microversions_are_refused_like_the_real_services_refuse_them() {
    let tb = Testbed::get();
    let dir = tempfile::tempdir().expect("tmp");
    let sim = start_sim(dir.path()).await;
    let sessions = [
        tb.operator("old"),
        Session::new("old", &as_operator(&sim.config.old_cloud)).expect("session"),
    ];
    let asks: [(Service, &str, &[&'static str]); 2] = [
        (
            Service::Compute,
            "/servers",
            &[
                "compute 2.40",
                "compute latest",
                "compute 2.104",
                "compute 2.105",
                "compute 2.0",
                "compute 9.99",
                "compute abc",
                "volume 9.99",
            ],
        ),
        (
            Service::BlockStorage,
            "/volumes/detail",
            &[
                "volume 3.8",
                "volume latest",
                "volume 3.71",
                "volume 3.72",
                "volume 2.9",
                "volume abc",
                "compute 3.8",
            ],
        ),
    ];
    let mut problems = Vec::new();
    for (service, path, versions) in asks {
        for mv in versions {
            let mut seen = Vec::new();
            for s in &sessions {
                let call = Call::new(service, Method::GET, path.to_string()).microversion(mv);
                // An answer's status alone; a refusal's status, kind and message.
                let answered = match s.send(&call).await {
                    Ok(resp) => (resp.status().as_u16(), None, String::new()),
                    Err(e) => answer(e),
                };
                seen.push(answered);
            }
            if seen[0] != seen[1] {
                problems.push(format!("{path} at {mv}: real {:?}, simulated {:?}", seen[0], seen[1]));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

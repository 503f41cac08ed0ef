//! Which project `--project` names: the token's own without a listing, any
//! other only when its name is unique among those listed; and what a dry run
//! of the project answers when `--volumes all` leaves one out.

use stackmigrate::openstack::{Keystone, Session};
use stackmigrate::sim::SimProject;

#[tokio::test]
async fn the_tokens_own_project_is_taken_and_another_name_must_be_unique() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    {
        // A second "research" and two "twin" projects, all with a role for every user.
        let mut s = sim.old.lock().expect("state");
        let extra = [("d0", "research"), ("d1", "twin"), ("d2", "twin")];
        for (id, name) in extra {
            let p = SimProject {
                id: id.repeat(16),
                name: name.into(),
            };
            for u in s.users.iter_mut() {
                u.roles.push((p.id.clone(), vec!["member".into()]));
            }
            s.projects.push(p);
        }
    }
    let old = Session::new("old", &sim.config.old_cloud).expect("session");
    let keystone = Keystone::new(&old);
    let listed = keystone.list_projects().await.expect("list");
    assert_eq!(listed.iter().filter(|p| p.name == "research").count(), 2, "{listed:?}");
    // The operator's token is scoped to the first "research": the config's project.
    let scoped = old.token().await.expect("token").project_id().map(str::to_string);
    let p = keystone
        .find_project("research")
        .await
        .expect("the token's own project");
    assert_eq!(Some(p.id.clone()), scoped);
    assert_eq!(p.name, "research");
    assert_eq!(p.domain_id.as_deref(), Some("default"));
    assert_eq!(keystone.find_project(&p.id).await.expect("by id").id, p.id);
    let twin = keystone.find_project("twin").await.expect_err("two twins");
    assert!(twin.to_string().contains("ambiguous"), "{twin}");
    let other = keystone.find_project(&"d1".repeat(16)).await.expect("by id");
    assert_eq!(other.name, "twin");
}

/// A dry run answers as the run would: `all` leaving out a volume in `error`
/// (the demo's broken-vol) needs attention (2); `migratable` chose that (0).
#[tokio::test]
async fn a_dry_run_exits_2_when_all_leaves_a_volume_out() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let mut args = stackmigrate::cli::MigrateArgs {
        dry_run: true,
        ..stackmigrate::cli::MigrateArgs::new("research")
    };
    let code = stackmigrate::cli::run_migrate(&sim.config, &args)
        .await
        .expect("dry run");
    assert_eq!(code, 2, "broken-vol left out");
    args.volumes = "migratable".into();
    let code = stackmigrate::cli::run_migrate(&sim.config, &args)
        .await
        .expect("dry run");
    assert_eq!(code, 0);
}

/// Warm sync patches the export file each round: a run that keeps none
/// fails pre-flight, dry run or not, naming the demo's volume a running
/// server writes to, before anything is copied; `--in-use snapshot` passes.
#[tokio::test]
async fn with_no_export_file_pre_flight_refuses_warm_sync() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let mut cfg = sim.config.clone();
    cfg.export_dir = None;
    // The demo's tape reads the export file: with none, it fails pre-flight too.
    cfg.tape = None;
    let mut args = stackmigrate::cli::MigrateArgs {
        volumes: "migratable".into(),
        dry_run: true,
        ..stackmigrate::cli::MigrateArgs::new("research")
    };
    let e = stackmigrate::cli::run_migrate(&cfg, &args)
        .await
        .expect_err("refused")
        .to_string();
    assert_eq!(e, "pre-flight: 1 problem(s); nothing was started");
    args.in_use = "snapshot".into();
    let code = stackmigrate::cli::run_migrate(&cfg, &args).await.expect("dry run");
    assert_eq!(code, 0);
    // Copied once (crash-consistent, with export files): a later run with none
    // goes on from the journal, and pre-flight names nothing to warm-sync.
    args.dry_run = false;
    args.yes = true;
    let kept = stackmigrate::config::Config {
        export_dir: sim.config.export_dir.clone(),
        ..cfg.clone()
    };
    let code = stackmigrate::cli::run_migrate(&kept, &args)
        .await
        .expect("snapshot run");
    assert_eq!(code, 2, "crash-consistent copies need attention");
    args.in_use = "sync".into();
    args.dry_run = true;
    stackmigrate::cli::run_migrate(&cfg, &args)
        .await
        .expect("the journal's copies pass pre-flight");
}

/// The old cloud as the operator sees it, logged in to project `other`
/// (a member of `research` too).
fn operator_in_other(sim: &stackmigrate::sim::SimClouds) -> stackmigrate::config::CloudConfig {
    use stackmigrate::config::{AuthMethod, Secret};
    let mut cloud = sim.config.old_cloud.clone();
    if let AuthMethod::Password { username, password, .. } = &mut cloud.auth {
        *username = "operator".into();
        *password = Secret::new("operatorpass");
    }
    cloud.project_name = Some("other".into());
    cloud
}

/// A member of two projects, logged in to one, archives the other's usage:
/// Nova answers a member only about its token's project (403 otherwise, as
/// the real one does), so a token for the project archived is taken.
#[tokio::test]
async fn a_member_logged_in_to_another_project_archives_this_ones_usage() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let cloud = operator_in_other(&sim);
    let args = stackmigrate::cli::UsageArgs {
        project: "research".into(),
        start: None,
        end: None,
        json: true,
    };
    let period = sim.config.usage.expect("the demo's period");
    let work = dir.path().join("usage-work");
    let code = stackmigrate::cli::run_usage(&cloud, Some(period), &work, 2, &args)
        .await
        .expect("archived");
    assert_eq!(code, 0);
}

/// The same member warm-syncs a volume of `research` and asks for its
/// cutover: the source's status is read with a token for `research` (Cinder
/// shows another project's volume as 404), so the refusal names the running
/// server, not an unreadable volume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_logged_in_to_another_project_has_its_cutover_checked() {
    let dir = tempfile::tempdir().expect("tmp");
    let sim = crate::sim(dir.path()).await;
    let cfg = stackmigrate::config::Config {
        old_cloud: operator_in_other(&sim),
        ..sim.config.clone()
    };
    let old = Session::new("old", &cfg.old_cloud).expect("old");
    let (_, row) = crate::in_use_row(&old).await;
    crate::one_sync_run(&cfg, &row, None).await;
    let events = crate::one_sync_run(&cfg, &row, Some(false)).await;
    let refusals: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            stackmigrate::engine::EngineEvent::Notice { message, .. } if message.contains("cutover refused") => {
                Some(message)
            }
            _ => None,
        })
        .collect();
    assert_eq!(refusals.len(), 1, "{events:#?}");
    assert!(
        refusals[0].contains("still attached to a server that may write: server "),
        "{refusals:?}"
    );
}

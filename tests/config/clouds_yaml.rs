//! clouds.yaml + secure.yaml, the openstackclient convention.

use stackmigrate::config::{load_cloud_from_yaml, AuthMethod, CloudsYamlSearch, ConfigError, Interface};
use std::path::Path;

const CLOUDS: &str = r#"
clouds:
  old:
    auth:
      auth_url: http://127.0.0.1:5010/v3
      username: operator
      project_name: research
      user_domain_name: Default
      project_domain_id: default
    region_name: RegionOne
    interface: internal
    identity_api_version: 3
    ceph:
      conf: /etc/ceph/old.conf
      pool: volumes
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://k.example.org/v3
      application_credential_id: abc
    verify: false
"#;

const SECURE: &str = r#"
clouds:
  old:
    auth:
      password: from-secure
  appcred:
    auth:
      application_credential_secret: app-secret
"#;

fn search(dir: &Path, clouds: &str, secure: Option<&str>) -> CloudsYamlSearch {
    std::fs::write(dir.join("clouds.yaml"), clouds).expect("write");
    if let Some(s) = secure {
        std::fs::write(dir.join("secure.yaml"), s).expect("write");
    }
    CloudsYamlSearch {
        clouds: vec![dir.join("missing.yaml"), dir.join("clouds.yaml")],
        secure: vec![dir.join("secure.yaml")],
    }
}

#[test]
fn secure_yaml_is_merged_in() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = search(dir.path(), CLOUDS, Some(SECURE));
    let old = load_cloud_from_yaml("old", &s).expect("old cloud");
    match &old.auth {
        AuthMethod::Password { username, password, .. } => {
            assert_eq!(username, "operator");
            assert_eq!(password.expose(), "from-secure");
        }
        other => panic!("expected password auth, got {other:?}"),
    }
    assert_eq!(old.interface, Interface::Internal);
    assert_eq!(old.project_domain_id.as_deref(), Some("default"));
    assert_eq!(old.ceph.as_ref().map(|c| c.id.as_str()), Some("admin"));
    let app = load_cloud_from_yaml("appcred", &s).expect("appcred cloud");
    assert!(app.insecure, "verify: false means insecure");
    assert!(
        matches!(app.auth, AuthMethod::ApplicationCredential { ref application_credential_secret, .. } if application_credential_secret.expose() == "app-secret")
    );
}

#[test]
fn a_missing_password_names_the_field_and_secure_yaml() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = search(dir.path(), CLOUDS, None);
    let e = load_cloud_from_yaml("old", &s).expect_err("no password");
    assert!(
        e.to_string().contains("clouds.old.auth.password") && e.to_string().contains("secure.yaml"),
        "{e}"
    );
}

#[test]
fn an_unknown_cloud_lists_the_known_ones() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = search(dir.path(), CLOUDS, Some(SECURE));
    let e = load_cloud_from_yaml("nope", &s).expect_err("unknown");
    assert!(matches!(e, ConfigError::CloudNotFound { .. }));
    assert!(e.to_string().contains("old, appcred"), "{e}");
}

#[test]
fn broken_yaml_names_line_and_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = search(dir.path(), "clouds:\n  old:\n    auth: [unclosed\n", None);
    let e = load_cloud_from_yaml("old", &s).expect_err("bad yaml");
    let text = e.to_string();
    assert!(
        text.contains("clouds.yaml:") && text.contains("not valid YAML"),
        "{text}"
    );
    assert!(matches!(e, ConfigError::Invalid { position: Some(_), .. }), "{text}");
}

#[test]
fn no_clouds_yaml_at_all_says_where_it_looked() {
    let dir = tempfile::tempdir().expect("tmp");
    let s = CloudsYamlSearch {
        clouds: vec![dir.path().join("a.yaml")],
        secure: vec![],
    };
    let e = load_cloud_from_yaml("old", &s).expect_err("none");
    assert!(e.to_string().contains("a.yaml"), "{e}");
}

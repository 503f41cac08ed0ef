//! clouds.yaml, the openstackclient convention, with `secure.yaml` merged in.
//! A cloud entry may carry a `ceph:` block (our extension; other tools ignore it).

use super::cloud_config::default_domain;
use super::{AuthMethod, CephConfig, CloudConfig, ConfigError, Interface, Secret};
use serde::Deserialize;
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};

/// The files looked at, in order; the first that exists wins.
#[derive(Debug, Clone)]
pub struct CloudsYamlSearch {
    pub clouds: Vec<PathBuf>,
    pub secure: Vec<PathBuf>,
}

/// `./clouds.yaml`, `$OS_CLIENT_CONFIG_FILE`, `~/.config/openstack/`,
/// `/etc/openstack/`; secure.yaml from `$OS_CLIENT_SECURE_FILE` and the same folders.
pub fn find_clouds_yaml() -> CloudsYamlSearch {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let mut dirs = vec![PathBuf::from(".")];
    if let Some(h) = &home {
        dirs.push(h.join(".config/openstack"));
    }
    dirs.push(PathBuf::from("/etc/openstack"));
    let mut clouds: Vec<PathBuf> = vec![PathBuf::from("clouds.yaml")];
    if let Some(f) = std::env::var_os("OS_CLIENT_CONFIG_FILE") {
        clouds.push(PathBuf::from(f));
    }
    clouds.extend(dirs.iter().skip(1).map(|d| d.join("clouds.yaml")));
    let mut secure: Vec<PathBuf> = std::env::var_os("OS_CLIENT_SECURE_FILE")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    secure.extend(dirs.iter().map(|d| d.join("secure.yaml")));
    CloudsYamlSearch { clouds, secure }
}

#[derive(Deserialize)]
struct YamlCloud {
    auth: YamlAuth,
    #[serde(default)]
    auth_type: Option<String>,
    #[serde(default)]
    region_name: Option<String>,
    #[serde(default)]
    interface: Option<String>,
    #[serde(default)]
    cacert: Option<PathBuf>,
    #[serde(default)]
    verify: Option<bool>,
    #[serde(default)]
    insecure: Option<bool>,
    #[serde(default)]
    ceph: Option<CephConfig>,
}

#[derive(Deserialize)]
struct YamlAuth {
    auth_url: String,
    username: Option<String>,
    password: Option<Secret>,
    user_domain_name: Option<String>,
    user_domain_id: Option<String>,
    project_name: Option<String>,
    project_id: Option<String>,
    project_domain_name: Option<String>,
    project_domain_id: Option<String>,
    application_credential_id: Option<String>,
    application_credential_secret: Option<Secret>,
}

/// Loads cloud `name` from the first clouds.yaml found by `search`.
pub fn load_cloud(name: &str, search: &CloudsYamlSearch) -> Result<CloudConfig, ConfigError> {
    let file = search
        .clouds
        .iter()
        .find(|p| p.is_file())
        .ok_or_else(|| ConfigError::NoCloudsYaml {
            searched: list(&search.clouds),
        })?;
    let mut doc = read_yaml(file)?;
    if let Some(secure) = search.secure.iter().find(|p| p.is_file()) {
        merge(&mut doc, read_yaml(secure)?);
    }
    let entry = doc
        .get("clouds")
        .and_then(|c| c.get(name))
        .cloned()
        .ok_or_else(|| ConfigError::CloudNotFound {
            file: file.clone(),
            name: name.to_string(),
            known: known_clouds(&doc),
        })?;
    let cloud: YamlCloud = serde_path_to_error::deserialize(entry).map_err(|e| {
        let path = e.path().to_string();
        ConfigError::Invalid {
            file: file.clone(),
            position: None,
            field: format!("clouds.{name}.{path}").trim_end_matches(".").to_string(),
            message: e.into_inner().to_string(),
        }
    })?;
    convert(cloud, file, name)
}

fn convert(c: YamlCloud, file: &Path, name: &str) -> Result<CloudConfig, ConfigError> {
    let invalid = |field: &str, message: &str| ConfigError::Invalid {
        file: file.to_path_buf(),
        position: None,
        field: format!("clouds.{name}.{field}"),
        message: message.to_string(),
    };
    let a = c.auth;
    let is_app_cred = c
        .auth_type
        .as_deref()
        .is_some_and(|t| t.contains("applicationcredential"))
        || a.application_credential_id.is_some();
    let auth = if is_app_cred {
        AuthMethod::ApplicationCredential {
            application_credential_id: a
                .application_credential_id
                .ok_or_else(|| invalid("auth.application_credential_id", "missing; add it or use password auth"))?,
            application_credential_secret: a.application_credential_secret.ok_or_else(|| {
                invalid(
                    "auth.application_credential_secret",
                    "missing; add it here or in secure.yaml",
                )
            })?,
        }
    } else {
        AuthMethod::Password {
            username: a
                .username
                .ok_or_else(|| invalid("auth.username", "missing; add the user name"))?,
            password: a
                .password
                .ok_or_else(|| invalid("auth.password", "missing; add it here or in secure.yaml"))?,
            user_domain_name: a.user_domain_name.unwrap_or_else(default_domain),
            user_domain_id: a.user_domain_id,
        }
    };
    let interface = match c.interface.as_deref() {
        None => Interface::Public,
        Some(i) => Interface::parse(i).ok_or_else(|| invalid("interface", "use public, internal or admin"))?,
    };
    Ok(CloudConfig {
        auth_url: a.auth_url,
        auth,
        project_name: a.project_name,
        project_id: a.project_id,
        project_domain_name: a.project_domain_name.unwrap_or_else(default_domain),
        project_domain_id: a.project_domain_id,
        region: c.region_name,
        interface,
        cacert: c.cacert,
        insecure: c.insecure.unwrap_or(false) || c.verify == Some(false),
        ceph: c.ceph,
        files: None,
    })
}

fn read_yaml(file: &Path) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Invalid {
        file: file.to_path_buf(),
        position: e.location().map(|l| (l.line(), l.column())),
        field: String::new(),
        message: format!("{e}; the file is not valid YAML, fix the syntax there"),
    })
}

/// Deep merge: mappings merge key by key, anything else in `over` replaces.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

fn known_clouds(doc: &Value) -> String {
    let names: Vec<String> = doc
        .get("clouds")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(|k| k.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

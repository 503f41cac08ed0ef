//! One cloud's connection settings: Keystone auth, scope, endpoint selection
//! and the Ceph cluster behind its Cinder.

use super::Secret;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    /// Keystone v3 URL, e.g. `https://keystone.example.org:5000/v3`.
    pub auth_url: String,
    pub auth: AuthMethod,
    #[serde(default)]
    pub project_name: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default = "default_domain")]
    pub project_domain_name: String,
    /// Takes precedence over `project_domain_name` when set.
    #[serde(default)]
    pub project_domain_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub interface: Interface,
    #[serde(default)]
    pub cacert: Option<PathBuf>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub ceph: Option<CephConfig>,
    /// Instead of `ceph`: a directory of raw `volume-<id>` files
    /// (file-backed Cinder such as NFS, and the demo's simulated clouds).
    #[serde(default)]
    pub files: Option<FilesConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    pub dir: PathBuf,
    /// Copy speed limit in MiB/s (the demo uses it to stay watchable).
    #[serde(default)]
    pub throttle_mib_s: Option<u64>,
    /// Fault injection for the demo and tests: the first export of each of
    /// these images fails midway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inject_export_failure: Vec<String>,
    /// Set only by the simulated clouds, never read from a file: their
    /// images are not synced to disk, since the simulated cloud itself (its
    /// Cinder, its Nova) lives in this process's memory and ends with it.
    #[serde(skip)]
    pub in_memory_cloud: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthMethod {
    Password {
        username: String,
        password: Secret,
        #[serde(default = "default_domain")]
        user_domain_name: String,
        /// Takes precedence over `user_domain_name` when set.
        #[serde(default)]
        user_domain_id: Option<String>,
    },
    ApplicationCredential {
        application_credential_id: String,
        application_credential_secret: Secret,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interface {
    #[default]
    Public,
    Internal,
    Admin,
}

impl Interface {
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Public => "public",
            Interface::Internal => "internal",
            Interface::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim_end_matches("URL") {
            "public" => Some(Interface::Public),
            "internal" => Some(Interface::Internal),
            "admin" => Some(Interface::Admin),
            _ => None,
        }
    }
}

/// How to reach the Ceph cluster that backs this cloud's Cinder.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CephConfig {
    pub conf: PathBuf,
    #[serde(default = "default_ceph_id")]
    pub id: String,
    #[serde(default)]
    pub keyring: Option<PathBuf>,
    #[serde(default = "default_pool")]
    pub pool: String,
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    Id(String),
    Name {
        name: String,
        domain: Domain,
    },
    /// Application credentials carry their own scope.
    Implied,
}

impl CloudConfig {
    /// The warning for a cloud whose TLS certificates are not checked
    /// (`insecure`): anyone on the path could read the tokens and passwords.
    pub fn insecure_warning(&self, name: &str) -> Option<String> {
        self.insecure.then(|| {
            format!(
                "warning: {name} cloud: insecure is set: TLS certificates of {} are NOT verified, so the password and tokens can be intercepted; set cacert instead",
                self.auth_url
            )
        })
    }

    /// The Keystone v3 URL `auth_url` names: as given when it ends in `/v3`;
    /// with `/v3` added when it names no version (`https://keystone:5000`, as
    /// many clouds.yaml files write it, or DevStack's `…/identity`). A v2
    /// URL is refused: Keystone v2.0 is gone, and stackmigrate speaks v3.
    pub fn keystone_v3_url(&self) -> Result<String, String> {
        let given = self.auth_url.trim_end_matches('/');
        // Not a URL: refused by validation and by `for_session`, naming it.
        let Ok(mut url) = reqwest::Url::parse(given) else {
            return Ok(given.to_string());
        };
        let last = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default();
        if last == "v3" {
            return Ok(given.to_string());
        }
        let old = last.starts_with("v2").then(|| last.to_string());
        if let Ok(mut path) = url.path_segments_mut() {
            if old.is_some() {
                path.pop();
            }
            path.pop_if_empty().push("v3");
        }
        match old {
            Some(v) => Err(format!(
                "{:?} names Keystone {v}, which is gone; use the v3 URL ({url})",
                self.auth_url
            )),
            None => Ok(url.to_string()),
        }
    }

    /// This cloud as a session uses it, `auth_url` made the Keystone v3 URL;
    /// refused when that URL holds a user name or password, which errors and
    /// logs naming a request would show.
    pub fn for_session(&self, name: &str) -> Result<CloudConfig, String> {
        let url = reqwest::Url::parse(&self.auth_url);
        if url
            .as_ref()
            .is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
        {
            return Err(format!(
                "{name} cloud: auth_url holds a user name or password (user:password@host); remove them from the URL and give them in the auth fields"
            ));
        }
        // From clouds.yaml or OS_AUTH_URL too, which no file validation saw.
        if !url.is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https") {
            return Err(format!(
                "{name} cloud: auth_url {:?} is not an http(s) URL; use the Keystone v3 URL such as https://keystone.example.org:5000/v3",
                self.auth_url
            ));
        }
        let v3 = self
            .keystone_v3_url()
            .map_err(|e| format!("{name} cloud: auth_url {e}"))?;
        if v3 != self.auth_url.trim_end_matches('/') {
            tracing::info!(cloud = %name, auth_url = %v3, "auth_url names no Keystone version: using v3");
        }
        Ok(CloudConfig {
            auth_url: v3,
            ..self.clone()
        })
    }

    pub fn scope(&self) -> ProjectScope {
        if let Some(id) = &self.project_id {
            ProjectScope::Id(id.clone())
        } else if let Some(name) = &self.project_name {
            ProjectScope::Name {
                name: name.clone(),
                domain: Domain::new(self.project_domain_id.as_deref(), &self.project_domain_name),
            }
        } else {
            ProjectScope::Implied
        }
    }
}

/// A Keystone domain reference: by id when known, else by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    Id(String),
    Name(String),
}

impl Domain {
    pub fn new(id: Option<&str>, name: &str) -> Self {
        match id {
            Some(id) => Domain::Id(id.to_string()),
            None => Domain::Name(name.to_string()),
        }
    }
}

pub(crate) fn default_domain() -> String {
    "Default".to_string()
}
fn default_ceph_id() -> String {
    "admin".to_string()
}
fn default_pool() -> String {
    "volumes".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(auth_url: &str) -> CloudConfig {
        serde_json::from_value(serde_json::json!({
            "auth_url": auth_url,
            "auth": {"type": "password", "username": "u", "password": "p"}
        }))
        .expect("cloud")
    }

    /// An `auth_url` with no version (as clouds.yaml files often have it)
    /// means v3; one naming v2.0 is refused with the v3 URL to use.
    #[test]
    fn auth_url_is_made_the_keystone_v3_url() {
        for (given, v3) in [
            ("https://k:5000/v3", "https://k:5000/v3"),
            ("https://k:5000/v3/", "https://k:5000/v3"),
            ("https://k:5000", "https://k:5000/v3"),
            ("https://k:5000/", "https://k:5000/v3"),
            ("http://h/identity", "http://h/identity/v3"),
            ("https://v2.cloud.example", "https://v2.cloud.example/v3"),
            ("http://v3", "http://v3/v3"),
            ("http://[::1]:5000", "http://[::1]:5000/v3"),
        ] {
            assert_eq!(cloud(given).keystone_v3_url().as_deref(), Ok(v3), "{given}");
            assert_eq!(cloud(given).for_session("old").expect("session").auth_url, v3);
        }
        let e = cloud("keystone.old:5000").for_session("old").expect_err("no scheme");
        assert_eq!(
            e,
            "old cloud: auth_url \"keystone.old:5000\" is not an http(s) URL; use the Keystone v3 URL such as https://keystone.example.org:5000/v3"
        );
        let e = cloud("https://k:5000/v2.0").for_session("old").expect_err("v2.0");
        assert_eq!(
            e,
            "old cloud: auth_url \"https://k:5000/v2.0\" names Keystone v2.0, which is gone; use the v3 URL (https://k:5000/v3)"
        );
    }
}

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

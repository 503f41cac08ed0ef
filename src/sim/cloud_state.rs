//! One simulated cloud's state: its projects, users, tokens, volumes,
//! servers and usage history. Behind one mutex per cloud; the simulator is a
//! stand-in for remote services, not part of the engine.

use super::faults::Faults;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

pub const DOMAIN: &str = "default";

#[derive(Debug, Clone)]
pub struct SimProject {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct SimUser {
    pub id: String,
    pub name: String,
    pub password: String,
    /// (project id, role names).
    pub roles: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct SimToken {
    pub user_id: String,
    pub project_id: String,
    pub roles: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SimVolume {
    pub id: String,
    pub project_id: String,
    pub user_id: String,
    pub name: String,
    pub description: Option<String>,
    pub size: u64,
    pub status: String,
    pub volume_type: String,
    pub bootable: bool,
    pub metadata: BTreeMap<String, String>,
    pub image_metadata: BTreeMap<String, String>,
    /// (server id, device).
    pub attachments: Vec<(String, String)>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone)]
pub struct SimInstance {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub flavor: &'static str,
    pub vcpus: u32,
    pub memory_mb: u64,
    pub local_gb: u64,
    /// Nova's status while it exists (ACTIVE, SHUTOFF).
    pub status: &'static str,
    pub started_at: NaiveDateTime,
    pub ended_at: Option<NaiveDateTime>,
}

pub struct CloudState {
    pub name: String,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub region: String,
    pub host: String,
    pub has_compute: bool,
    pub projects: Vec<SimProject>,
    pub users: Vec<SimUser>,
    pub tokens: HashMap<String, SimToken>,
    pub token_lifetime: chrono::Duration,
    pub volumes: BTreeMap<String, SimVolume>,
    /// Volume types (id, name); Cinder's default type is always there.
    pub volume_types: Vec<(String, String)>,
    pub instances: Vec<SimInstance>,
    pub quota_volumes: i64,
    pub quota_gigabytes: i64,
    /// Where `volume-<id>` files live (the cloud's "pool").
    pub store_dir: PathBuf,
    pub faults: Faults,
    pub requests: u64,
    /// Tokens issued so far (tests check re-authentication with it).
    pub tokens_issued: u64,
    /// The next this many logins answer 500, as Keystone on SQLite does
    /// under parallel first logins ("database is locked"). Set by tests.
    pub failing_logins: u32,
    /// Where the state is kept between runs (`sim_state.rs`), if anywhere,
    /// and what was last written there.
    pub state_file: Option<PathBuf>,
    pub saved: Option<String>,
}

impl CloudState {
    pub fn new(name: &str, base: String, store_dir: PathBuf, has_compute: bool, faults: Faults) -> Self {
        Self {
            name: name.to_string(),
            base,
            region: "RegionOne".into(),
            host: format!("sim-{name}@files#files"),
            has_compute,
            projects: Vec::new(),
            users: Vec::new(),
            tokens: HashMap::new(),
            token_lifetime: chrono::Duration::hours(4),
            volumes: BTreeMap::new(),
            volume_types: vec![(uuid::Uuid::new_v4().to_string(), "__DEFAULT__".into())],
            instances: Vec::new(),
            quota_volumes: 100,
            quota_gigabytes: 2000,
            store_dir,
            faults,
            requests: 0,
            tokens_issued: 0,
            failing_logins: 0,
            state_file: None,
            saved: None,
        }
    }

    pub fn project(&self, name_or_id: &str) -> Option<&SimProject> {
        self.projects
            .iter()
            .find(|p| p.id == name_or_id || p.name == name_or_id)
    }

    pub fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("req-{}", uuid::Uuid::new_v4())
    }

    /// The token behind `X-Auth-Token`, if valid now.
    pub fn check_token(&self, value: Option<&str>) -> Option<SimToken> {
        let t = self.tokens.get(value?)?;
        (t.expires_at > Utc::now()).then(|| t.clone())
    }

    pub fn is_admin(t: &SimToken) -> bool {
        t.roles.iter().any(|r| r == "admin")
    }
}

/// Timestamps as Cinder and Nova write them: no zone, microseconds.
pub fn naive(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub fn opt_naive(t: &Option<NaiveDateTime>) -> Value {
    t.as_ref().map_or(Value::Null, |t| Value::String(naive(t)))
}

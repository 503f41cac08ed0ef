//! Access to the running testbed: its `env` contract file and sessions for
//! the operator (member on research) and the admin.

use stackmigrate::config::{CloudConfig, Config};
use stackmigrate::openstack::Session;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub struct Testbed {
    pub state: PathBuf,
    env: HashMap<String, String>,
}

impl Testbed {
    /// The running testbed, or a failure that says how to start it.
    pub fn get() -> Testbed {
        let state = std::env::var_os("STACKMIGRATE_TESTBED_STATE")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("testbed/.state"));
        let text = std::fs::read_to_string(state.join("env")).unwrap_or_else(|e| {
            panic!(
                "testbed not running ({}: {e}); start it with `bash testbed/up.sh` or run scripts/test.sh",
                state.join("env").display()
            )
        });
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Testbed { state, env }
    }

    pub fn var(&self, key: &str) -> String {
        self.env
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("testbed env has no {key}"))
    }

    pub fn credentials(&self) -> PathBuf {
        self.state.join("credentials.json")
    }

    pub fn admin_credentials(&self) -> PathBuf {
        self.state.join("credentials-admin.json")
    }

    pub fn config(&self) -> Config {
        Config::from_json_file(&self.credentials())
            .expect("testbed credentials.json")
            .0
    }

    pub fn admin_config(&self) -> Config {
        Config::from_json_file(&self.admin_credentials())
            .expect("testbed credentials-admin.json")
            .0
    }

    pub fn operator(&self, cloud: &str) -> Session {
        let c = self.config();
        Session::new(cloud, pick(&c, cloud)).expect("session")
    }

    pub fn admin(&self, cloud: &str) -> Session {
        let c = self.admin_config();
        Session::new(cloud, pick(&c, cloud)).expect("session")
    }
}

fn pick<'a>(c: &'a Config, cloud: &str) -> &'a CloudConfig {
    if cloud == "old" {
        &c.old_cloud
    } else {
        &c.new_cloud
    }
}

/// A unique name for resources a test creates.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

//! Runs the `rbd` CLI of one cluster. Argv only, never a shell; connect
//! timeouts so a dead monitor fails in seconds instead of hanging for 300 s.

use super::RbdError;
use crate::config::CephConfig;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

#[derive(Debug, Clone)]
pub struct RbdCli {
    ceph: CephConfig,
    /// Seconds for `--client-mount-timeout` and `--rados-mon-op-timeout`.
    connect_timeout: u32,
}

impl RbdCli {
    pub fn new(ceph: &CephConfig) -> Self {
        Self {
            ceph: ceph.clone(),
            connect_timeout: 15,
        }
    }

    pub fn pool(&self) -> &str {
        &self.ceph.pool
    }

    /// `--conf`, `--id`, `--keyring` and the timeouts, for every rbd call.
    pub fn base_args(&self) -> Vec<String> {
        let mut args = vec![
            "--conf".to_string(),
            self.ceph.conf.display().to_string(),
            "--id".to_string(),
            self.ceph.id.clone(),
        ];
        if let Some(k) = &self.ceph.keyring {
            args.push("--keyring".into());
            args.push(k.display().to_string());
        }
        let t = self.connect_timeout.to_string();
        args.extend([
            "--client-mount-timeout".into(),
            t.clone(),
            "--rados-mon-op-timeout".into(),
            t,
        ]);
        args
    }

    /// Runs a short rbd command to completion and returns its stdout.
    /// (`ls` and `info` reject `--no-progress`, so it is never added here.)
    pub async fn run(&self, op: &str, args: &[&str]) -> Result<String, RbdError> {
        let mut cmd = Command::new("rbd");
        cmd.args(self.base_args())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let child = cmd.spawn().map_err(|e| RbdError::Spawn {
            op: op.into(),
            message: e.to_string(),
        })?;
        let limit = Duration::from_secs(u64::from(self.connect_timeout) * 2 + 10);
        let out = tokio::time::timeout(limit, child.wait_with_output())
            .await
            .map_err(|_| RbdError::Timeout {
                op: op.into(),
                stderr: format!("no answer within {} s", limit.as_secs()),
            })?
            .map_err(|e| RbdError::Spawn {
                op: op.into(),
                message: e.to_string(),
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(RbdError::from_exit(
                op,
                out.status.code(),
                &String::from_utf8_lossy(&out.stderr),
            ))
        }
    }

    /// Image names in the pool.
    pub async fn ls(&self) -> Result<Vec<String>, RbdError> {
        let out = self.run("ls", &["ls", "--pool", &self.ceph.pool]).await?;
        Ok(out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
    }
}

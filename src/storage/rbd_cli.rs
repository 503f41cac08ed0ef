//! Runs the `rbd` CLI of one cluster. Argv only, never a shell; connect
//! timeouts so a dead monitor fails in seconds instead of hanging for 300 s.
//! Every call is a [`ChildProcess`] (its own process group; stopped by TERM,
//! grace, KILL). Two kinds: short ones (`ls`, `info`, `create`, `rename`,
//! snapshots) are stopped at a time limit; long ones (`diff`, `rm`), whose
//! time grows with the image size when the image has no object-map/fast-diff,
//! have none and are stopped only by their cancel.

use super::child_process::{within, ChildExit, ChildProcess};
use super::RbdError;
use crate::config::CephConfig;
use std::io::Read;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Seconds for `--client-mount-timeout` and `--rados-mon-op-timeout`.
const CONNECT_TIMEOUT: u32 = 15;

#[derive(Debug, Clone)]
pub struct RbdCli {
    ceph: CephConfig,
    connect_timeout: u32,
    /// The whole of a short call: twice the connect timeout and 10 s for the work.
    short_limit: Duration,
}

impl RbdCli {
    pub fn new(ceph: &CephConfig) -> Self {
        Self {
            ceph: ceph.clone(),
            connect_timeout: CONNECT_TIMEOUT,
            short_limit: Duration::from_secs(u64::from(CONNECT_TIMEOUT) * 2 + 10),
        }
    }

    /// The same cluster with another limit for short calls (tests shrink it to
    /// show that a long call is not held to it).
    pub fn with_short_limit(mut self, limit: Duration) -> Self {
        self.short_limit = limit;
        self
    }

    pub fn short_limit(&self) -> Duration {
        self.short_limit
    }

    /// The cluster's settings, and the connect timeout every call is given.
    pub fn ceph(&self) -> (&CephConfig, u32) {
        (&self.ceph, self.connect_timeout)
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

    /// The full argv of an rbd call: `rbd`, the base args, then `args`.
    pub fn argv(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec!["rbd".to_string()];
        v.extend(self.base_args());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }

    /// Runs a short rbd command to completion within the short limit and
    /// returns its stdout. Past the limit it is stopped as a cancelled long
    /// call is (TERM to its group, grace, KILL). (`ls` and `info` reject
    /// `--no-progress`, so it is never added here.)
    pub async fn run(&self, op: &str, args: &[&str]) -> Result<String, RbdError> {
        let limit = self.short_limit;
        match within(limit, async |expired| self.run_long(op, args, expired).await).await {
            (Err(RbdError::Cancelled { .. }), true) => Err(RbdError::Timeout {
                op: op.into(),
                stderr: format!("no answer within {:.1} s", limit.as_secs_f64()),
            }),
            (out, _) => out,
        }
    }

    /// Runs a long rbd command (`diff`, `rm`) with no time limit: it ends when
    /// rbd does, or when `cancel` fires (TERM to its group, grace, KILL).
    /// A dead monitor still fails within the connect timeouts.
    pub async fn run_long(&self, op: &str, args: &[&str], cancel: &CancellationToken) -> Result<String, RbdError> {
        let out = self
            .run_long_with(op, args, cancel, |mut stdout| {
                let mut out = Vec::new();
                stdout.read_to_end(&mut out).map(|_| out)
            })
            .await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// [`Self::run_long`] with its stdout read by `consume` as it comes (on a
    /// blocking thread), so a long listing is never held whole in memory.
    pub async fn run_long_with<T: Send + 'static>(
        &self,
        op: &str,
        args: &[&str],
        cancel: &CancellationToken,
        consume: impl FnOnce(std::fs::File) -> std::io::Result<T> + Send + 'static,
    ) -> Result<T, RbdError> {
        let spawn_error = |e: std::io::Error| RbdError::Spawn {
            op: op.into(),
            message: e.to_string(),
        };
        let mut child = ChildProcess::spawn(&self.argv(args), false, true).map_err(spawn_error)?;
        let stdout = child.take_stdout().ok_or_else(|| RbdError::Spawn {
            op: op.into(),
            message: "no stdout".into(),
        })?;
        let reader = tokio::task::spawn_blocking(move || consume(stdout));
        let exit = child.wait(cancel).await.map_err(spawn_error)?;
        let (code, stderr) = match exit {
            // Stopped: a member that outlived the kill may hold stdout open;
            // its reader is left behind rather than waited for.
            ChildExit::Cancelled { .. } => return Err(RbdError::Cancelled { op: op.into() }),
            ChildExit::Exited { code, stderr } => (code, stderr),
        };
        let out = reader
            .await
            .map_err(|e| spawn_error(std::io::Error::other(e.to_string())))?;
        match code {
            Some(0) => out.map_err(|e| RbdError::Other {
                op: op.into(),
                code: Some(0),
                stderr: format!("unexpected output: {e}"),
            }),
            code => Err(RbdError::from_exit(op, code, &stderr)),
        }
    }

    /// Image names in the pool.
    pub async fn ls(&self) -> Result<Vec<String>, RbdError> {
        let out = self.run("ls", &["ls", "--pool", &self.ceph.pool]).await?;
        Ok(out.lines().map(str::to_string).filter(|l| !l.is_empty()).collect())
    }
}

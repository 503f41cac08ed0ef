//! rbd's exit code is an errno; together with its stderr it becomes a typed error.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RbdError {
    #[error("rbd {op}: image or pool not found: {stderr}")]
    NotFound { op: String, stderr: String },
    #[error("rbd {op}: already exists: {stderr}")]
    AlreadyExists { op: String, stderr: String },
    #[error("rbd {op}: image has snapshots: {stderr}")]
    HasSnapshots { op: String, stderr: String },
    #[error("rbd {op}: the image is still open by a client: {stderr}")]
    Busy { op: String, stderr: String },
    #[error("rbd {op}: broken pipe: {stderr}")]
    BrokenPipe { op: String, stderr: String },
    #[error("rbd {op}: timed out reaching the cluster: {stderr}; check the monitors in the ceph conf")]
    Timeout { op: String, stderr: String },
    #[error("rbd {op}: bad configuration or arguments: {stderr}; check ceph conf, id and keyring")]
    Config { op: String, stderr: String },
    #[error("rbd {op}: exit code {code:?}: {stderr}")]
    Other {
        op: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("rbd {op}: cancelled before it finished")]
    Cancelled { op: String },
    #[error("rbd {op}: cannot start rbd: {message}; install ceph-common")]
    Spawn { op: String, message: String },
}

impl RbdError {
    /// Maps an exit code and stderr to the error for operation `op`.
    pub fn from_exit(op: &str, code: Option<i32>, stderr: &str) -> Self {
        let op = op.to_string();
        let stderr = last_line(stderr);
        match code {
            Some(2) => RbdError::NotFound { op, stderr },
            Some(17) => RbdError::AlreadyExists { op, stderr },
            Some(39) => RbdError::HasSnapshots { op, stderr },
            Some(16) => RbdError::Busy { op, stderr },
            Some(32) => RbdError::BrokenPipe { op, stderr },
            Some(110) => RbdError::Timeout { op, stderr },
            Some(1) => RbdError::Config { op, stderr },
            code => RbdError::Other { op, code, stderr },
        }
    }
}

/// The last non-empty line, with progress output (`\r`-separated) dropped.
/// A crash ends with Ceph's dump of recent events: then the failed assertion
/// and the signal it caught say what happened, not the dump's last line.
fn last_line(stderr: &str) -> String {
    let crash: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("FAILED ceph_assert") || l.starts_with("*** Caught signal"))
        .collect();
    if !crash.is_empty() {
        let mut seen: Vec<&str> = Vec::new();
        for l in crash {
            if !seen.contains(&l) {
                seen.push(l);
            }
        }
        return format!("rbd crashed: {}", seen.join("; "));
    }
    stderr
        .lines()
        .flat_map(|l| l.rsplit('\r').next())
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_variants() {
        let e = RbdError::from_exit(
            "info",
            Some(2),
            "rbd: error opening image volume-x: (2) No such file or directory\n",
        );
        assert!(matches!(e, RbdError::NotFound { ref stderr, .. } if stderr.contains("No such file")));
        assert!(matches!(
            RbdError::from_exit("import", Some(17), ""),
            RbdError::AlreadyExists { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("rm", Some(39), ""),
            RbdError::HasSnapshots { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("rm", Some(16), "rbd: error: image still has watchers"),
            RbdError::Busy { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("export", Some(32), ""),
            RbdError::BrokenPipe { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("ls", Some(110), ""),
            RbdError::Timeout { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("ls", Some(1), "rbd: unrecognised option '--no-progress'"),
            RbdError::Config { .. }
        ));
        assert!(matches!(
            RbdError::from_exit("ls", None, "killed"),
            RbdError::Other { code: None, .. }
        ));
    }

    #[test]
    fn progress_noise_is_dropped_from_stderr() {
        let e = RbdError::from_exit("export", Some(5), "Exporting image: 10% complete...\rExporting image: 20% complete...\rrbd: export error: (5) Input/output error\n");
        assert_eq!(
            e.to_string(),
            "rbd export: exit code Some(5): rbd: export error: (5) Input/output error"
        );
    }

    #[test]
    fn a_crash_names_its_assertion_and_signal_not_the_dumps_last_line() {
        let stderr = "2026-12-02T07:40:01.000+0000 7f00 -1 /build/ceph/src/librbd/Foo.cc: In function 'void f()':\n\
/build/ceph/src/librbd/Foo.cc: 42: FAILED ceph_assert(m_state == STATE_OPEN)\n\
 ceph version 16.2.15\n\
*** Caught signal (Aborted) **\n\
 in thread 7f00 thread_name:rbd\n\
--- begin dump of recent events ---\n\
/build/ceph/src/librbd/Foo.cc: 42: FAILED ceph_assert(m_state == STATE_OPEN)\n\
--- end dump of recent events ---\n";
        let e = RbdError::from_exit("du", None, stderr);
        assert_eq!(
            e.to_string(),
            "rbd du: exit code None: rbd crashed: /build/ceph/src/librbd/Foo.cc: 42: FAILED ceph_assert(m_state == STATE_OPEN); *** Caught signal (Aborted) **"
        );
    }
}

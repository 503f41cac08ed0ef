//! A failed stage: which stage, and a message that names the volume and says
//! what to do next.

use super::Stage;
use crate::openstack::OpenStackError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{stage} failed for volume {volume}: {message}")]
pub struct StageError {
    pub stage: Stage,
    pub volume: String,
    pub message: String,
}

impl StageError {
    pub fn new(stage: Stage, volume: &str, message: impl std::fmt::Display) -> Self {
        Self {
            stage,
            volume: volume.to_string(),
            message: message.to_string(),
        }
    }
}

/// A checksum mismatch against a new volume an earlier run made and that
/// this run does not fill again (verified, or adopted by `manage`): a retry
/// would compare the same two again, so the next step is named.
pub(super) fn reused_mismatch(e: StageError, new_id: &str) -> StageError {
    if !e.message.starts_with("checksum mismatch") {
        return e;
    }
    let message = format!(
        "{}; new volume {new_id} was filled by an earlier run from an earlier export, and this run does not write it again, so retrying repeats this: if the source has been written since (a server uses it), migrate it with warm sync; otherwise delete volume {new_id} in the new cloud, then migrate again",
        e.message
    );
    StageError { message, ..e }
}

/// `stackmigrate.state` while `replace` swaps Cinder's empty image for the copy.
pub(super) const SWAPPING: &str = "swapping";

/// `replace` found no image of Cinder's new volume in the configured pool.
pub(super) fn not_in_pool(v: &crate::openstack::Volume, pool: &str) -> String {
    let kind = v.volume_type.as_deref().unwrap_or("the default type");
    format!(
        "Cinder made new volume {} ({kind}), but pool {pool} holds no image volume-{}: new_cloud.ceph.pool is not the pool Cinder uses for {kind}; set it (or volume_type_map) to match, delete volume {} in the new cloud, and migrate again",
        v.id, v.id, v.id
    )
}

/// Adds the next step to the Cinder errors an operator can act on.
pub(super) fn cinder_hint(e: OpenStackError) -> String {
    match e.status() {
        Some(413) => format!("{e}; raise the new project's volume quota or select fewer volumes"),
        Some(403) => format!("{e}; the user lacks the role for this call (manage needs admin)"),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_against_a_volume_this_run_does_not_fill_names_it_and_the_next_step() {
        let e = StageError::new(
            Stage::Verify,
            "v",
            "checksum mismatch: export a vs new image volume-n b",
        );
        let e = reused_mismatch(e, "n");
        assert!(e.message.contains("delete volume n in the new cloud"), "{e}");
        assert!(e.message.contains("retrying repeats this"), "{e}");
        let other = StageError::new(Stage::Verify, "v", "rbd: timed out");
        assert_eq!(reused_mismatch(other.clone(), "n"), other, "only a mismatch");
    }
}

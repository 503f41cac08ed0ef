//! What `update` asks the outside world to do. The runtime's executor turns
//! each into a background task whose result comes back as an `Action`, so
//! `update` and the views never do I/O and tests can check what was asked.

use crate::engine::{EngineCommand, SyncPlan};
use crate::openstack::{Project, Volume};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Effect {
    /// Auth, endpoints, block stores, directories: one `CheckDone` per line.
    RunChecks,
    /// The old cloud's projects, then each one's volume count and size.
    LoadProjects,
    LoadVolumes(Project),
    /// New-cloud quota and export-dir free space for the volumes footer.
    LoadTarget,
    /// Inventory archive and pre-flight for the plan.
    Prepare {
        project: Project,
        volumes: Vec<Volume>,
    },
    /// The plan was left while pre-flight ran: stop it (a slow used-bytes measure).
    CancelPrepare,
    Start {
        project: Project,
        volumes: Vec<Volume>,
        /// Which volumes are warm-synced, and the pause between rounds.
        sync: SyncPlan,
    },
    Engine(EngineCommand),
    LoadReport(PathBuf),
}

//! The screens before and after a run, each a state type with the methods
//! `update` calls and a pure `impl Widget for &Screen`.

mod connect;
mod plan;
mod projects;
mod summary;
mod volumes;
mod volumes_view;

pub use connect::{CheckKind, ConnectScreen};
pub use plan::PlanScreen;
pub use projects::{ProjectEntry, ProjectsScreen};
pub use summary::{ReportRow, SummaryScreen, UsageStatus};
pub use volumes::{TargetInfo, VolumeEntry, VolumesScreen};

//! The terminal dashboard, a client of the engine like `migrate` is: browse
//! the old cloud's projects, tick volumes, check the plan, then watch every
//! phase live and abort or retry from the keyboard.
//!
//! ```text
//! key ─► keymap ─► Action ─┐                        ┌─► Effect ─► executor task ─┐
//! EngineEvent ─► Action ───┼─► update(&mut App) ────┤                            │
//! background result ───────┘        ▲               └─► dirty ─► view (pure) ─► frame
//!                                   └───────────── Action ◄──────────────────────┘
//! ```

mod action;
mod app;
mod chrome;
mod dashboard;
mod effect;
mod executor;
mod filter;
pub mod format;
pub mod keymap;
mod loads;
mod runtime;
mod screens;
mod scroll;
mod update;
mod view;

pub use action::Action;
pub use app::{App, Screen};
pub use chrome::{ConfirmDialog, DialogAction, Flash, FlashLevel};
pub use dashboard::{is_wide, Dashboard, VolumeProgress};
pub use effect::Effect;
pub use runtime::{run, Launch};
pub use screens::{CheckKind, ProjectEntry, ReportRow, TargetInfo, UsageStatus, VolumeEntry};
pub use update::update;

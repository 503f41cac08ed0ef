//! stackmigrate: moves one OpenStack project's block storage and usage history
//! from an old cloud to a new one. The binary (`main.rs`) is a thin edge over
//! this library: config → OpenStack clients → (later) engine → TUI or headless.
//!
//! Library modules use `thiserror` errors; only `main.rs` uses `color_eyre`.

pub mod check_line;
pub mod cli;
pub mod config;
pub mod engine;
pub mod escaped;
pub mod exit_codes;
pub mod in_use;
pub mod logging;
pub mod openstack;
pub mod signals;
pub mod sim;
pub mod storage;
pub mod tui;
pub mod units;
pub mod usage;

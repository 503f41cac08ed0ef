//! The terminal dashboard: screens and panes drawn on `TestBackend` and
//! snapshotted with insta (80×24 and 120×40), driven by injected keys and
//! synthetic engine events; then the real binary in tmux against the testbed.

mod attachments;
mod dashboard;
mod e2e;
#[path = "../common/fixtures.rs"]
mod fixtures;
mod flow;
mod harness;
mod narrow;
mod no_export_file;
mod screens;
mod start_over;
#[path = "../common/testbed.rs"]
mod testbed;
mod warm_sync;

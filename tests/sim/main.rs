//! The demo's simulated clouds: fidelity to the real services' responses,
//! the headless demo end to end, and the injected faults.

mod attachments;
mod demo_run;
mod fidelity;
mod file_modes;
mod log_file;
mod no_export_file;
mod projects;
mod transient;

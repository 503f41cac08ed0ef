//! Config loading, through the library and through `stackmigrate config validate`;
//! the exit codes of usage errors, `--help` and `--version`.

mod clouds_yaml;
mod exit_codes;
mod validate_cli;

//! Config loading, through the library and through `stackmigrate config validate`.

mod clouds_yaml;
mod validate_cli;

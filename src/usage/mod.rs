//! Phase 4, the usage archive: whole-period and month-by-month
//! `os-simple-tenant-usage` from the old cloud's Nova, as JSON and CSV, one
//! directory per run under `<project dir>/usage/`, `usage/latest` naming the
//! one in use. Reports progress as `UsageEvent`s; knows nothing of the engine.

mod archive_dir;
mod month_range;
mod usage_archive;
mod usage_event;
mod usage_period;

pub use archive_dir::{latest, sums_match_on_disk, LATEST};
pub use month_range::{months, Month};
pub use usage_archive::{MonthTotals, UsageArchive, UsageError, UsageSummary};
pub use usage_event::UsageEvent;
pub use usage_period::{check_period, CheckedPeriod, PeriodError};

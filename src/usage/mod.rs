//! Phase 4, the usage archive: whole-period and month-by-month
//! `os-simple-tenant-usage` from the old cloud's Nova, as JSON and CSV.

mod month_range;
mod usage_archive;
mod usage_period;

pub use month_range::{months, Month};
pub use usage_archive::{MonthTotals, UsageArchive, UsageError, UsageSummary};
pub use usage_period::{check_period, CheckedPeriod};

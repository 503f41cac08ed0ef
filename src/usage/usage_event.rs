//! What a usage run reports while it runs. The engine maps these into its
//! `EngineEvent`s; the usage module does not know the engine.

use super::usage_archive::MonthTotals;

#[derive(Debug, Clone, PartialEq)]
pub enum UsageEvent {
    /// A line for the operator (the period was clipped, global.json skipped).
    Note(String),
    /// One month archived, in month order.
    Month(MonthTotals),
}

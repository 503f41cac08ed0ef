//! The usage period: from config or flags, checked, and clipped to now.

use chrono::NaiveDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedPeriod {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    /// Set when the end was in the future and clipped to `now`.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("usage period: start {start} must be before end {end}; fix --start/--end or usage.start/usage.end")]
    StartNotBeforeEnd { start: NaiveDateTime, end: NaiveDateTime },
    #[error("usage period: start {start} is in the future; there is no usage to archive yet")]
    StartInFuture { start: NaiveDateTime },
}

/// Start must be before end; an end after `now` becomes `now` (Nova has no
/// usage from the future, and a later re-run would disagree with this one).
pub fn check_period(
    start: NaiveDateTime,
    end: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<CheckedPeriod, PeriodError> {
    if start >= end {
        return Err(PeriodError::StartNotBeforeEnd { start, end });
    }
    if start >= now {
        return Err(PeriodError::StartInFuture { start });
    }
    let now = now.with_nanosecond(0).unwrap_or(now);
    if end > now {
        return Ok(CheckedPeriod {
            start,
            end: now,
            note: Some(format!("usage end {end} is in the future; clipped to now ({now})")),
        });
    }
    Ok(CheckedPeriod { start, end, note: None })
}

use chrono::Timelike;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        crate::config::naive_time::parse(s).expect("time")
    }

    #[test]
    fn order_future_and_clipping() {
        let now = t("2026-11-25T12:00:00");
        let order = check_period(t("2025-02-01"), t("2025-01-01"), now).expect_err("order");
        assert!(matches!(order, PeriodError::StartNotBeforeEnd { .. }), "{order}");
        assert!(order.to_string().contains("must be before"), "{order}");
        assert!(check_period(t("2025-01-01"), t("2025-01-01"), now).is_err());
        let future = check_period(t("2027-01-01"), t("2028-01-01"), now).expect_err("future");
        assert_eq!(future, PeriodError::StartInFuture { start: t("2027-01-01") });
        assert!(future.to_string().contains("future"), "{future}");
        let p = check_period(t("2025-01-01"), t("2099-01-01"), now).expect("clipped");
        assert_eq!(p.end, now);
        assert!(p.note.expect("note").contains("clipped to now"));
        let p = check_period(t("2025-01-01"), t("2025-07-01"), now).expect("as is");
        assert_eq!((p.end, p.note), (t("2025-07-01"), None));
    }
}

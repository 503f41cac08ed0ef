//! Calendar months in UTC from the start month to the end month, the first
//! and last clipped to the period.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

/// One month of the breakdown: `label` is `YYYY-MM`; [start, end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Month {
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

fn first_of(year: i32, month: u32) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, month, 1).map(|d| d.and_time(NaiveTime::MIN))
}

fn next_month(year: i32, month: u32) -> (i32, u32) {
    if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    }
}

/// The months covering [start, end). Empty when start ≥ end.
pub fn months(start: NaiveDateTime, end: NaiveDateTime) -> Vec<Month> {
    let mut out = Vec::new();
    let (mut y, mut m) = (start.year(), start.month());
    while let Some(first) = first_of(y, m) {
        if first >= end {
            break;
        }
        let (ny, nm) = next_month(y, m);
        let Some(next) = first_of(ny, nm) else { break };
        let (s, e) = (first.max(start), next.min(end));
        if s < e {
            out.push(Month {
                year: y,
                month: m,
                start: s,
                end: e,
            });
        }
        (y, m) = (ny, nm);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        crate::config::naive_time::parse(s).expect("time")
    }

    #[test]
    fn clipped_first_and_last_months() {
        let ms = months(t("2025-01-15T06:00:00"), t("2025-03-10T00:00:00"));
        let labels: Vec<String> = ms.iter().map(Month::label).collect();
        assert_eq!(labels, ["2025-01", "2025-02", "2025-03"]);
        assert_eq!(ms[0].start, t("2025-01-15T06:00:00"));
        assert_eq!(ms[0].end, t("2025-02-01"));
        assert_eq!(ms[2].start, t("2025-03-01"));
        assert_eq!(ms[2].end, t("2025-03-10"));
    }

    #[test]
    fn leap_years_and_december() {
        let ms = months(t("2023-12-01"), t("2024-03-01"));
        let spans: Vec<(String, i64)> = ms.iter().map(|m| (m.label(), (m.end - m.start).num_days())).collect();
        assert_eq!(
            spans,
            [("2023-12".into(), 31), ("2024-01".into(), 31), ("2024-02".into(), 29)]
        );
        let feb_2100 = months(t("2100-02-01"), t("2100-03-01"));
        assert_eq!(
            (feb_2100[0].end - feb_2100[0].start).num_days(),
            28,
            "2100 is not a leap year"
        );
    }

    #[test]
    fn a_period_starting_on_the_31st() {
        let ms = months(t("2025-01-31"), t("2025-04-30"));
        let labels: Vec<String> = ms.iter().map(Month::label).collect();
        assert_eq!(labels, ["2025-01", "2025-02", "2025-03", "2025-04"]);
        assert_eq!((ms[0].end - ms[0].start).num_days(), 1);
        assert_eq!(ms[1].start, t("2025-02-01"), "no skipped or doubled February");
    }

    #[test]
    fn one_day_and_empty_periods() {
        let ms = months(t("2025-06-10"), t("2025-06-11"));
        assert_eq!(ms.len(), 1);
        assert_eq!((ms[0].start, ms[0].end), (t("2025-06-10"), t("2025-06-11")));
        assert!(months(t("2025-06-10"), t("2025-06-10")).is_empty());
        assert!(months(t("2025-06-11"), t("2025-06-10")).is_empty());
        let end_on_boundary = months(t("2025-05-01"), t("2025-06-01"));
        assert_eq!(end_on_boundary.len(), 1, "an end on the 1st adds no empty month");
    }

    #[test]
    fn more_than_ten_years_is_contiguous() {
        let ms = months(t("2013-05-20T12:00:00"), t("2025-02-03"));
        assert_eq!(ms.len(), 12 * 11 + 10);
        assert!(ms.windows(2).all(|w| w[0].end == w[1].start), "no gaps, no overlaps");
        assert_eq!(ms.first().map(|m| m.start), Some(t("2013-05-20T12:00:00")));
        assert_eq!(ms.last().map(|m| m.end), Some(t("2025-02-03")));
    }
}

//! Phase 4 against the real nova-api: the archive's files, the monthly sums
//! against the whole period, paging, the member's 403 on the global list, and
//! the CLI's errors.

use crate::testbed::Testbed;
use stackmigrate::config::naive_time::parse;
use stackmigrate::engine::EngineEvent;
use stackmigrate::usage::{check_period, UsageArchive};
use std::process::Command;

fn period(start: &str, end: &str) -> stackmigrate::usage::CheckedPeriod {
    let now = chrono::Utc::now().naive_utc();
    check_period(parse(start).expect("start"), parse(end).expect("end"), now).expect("period")
}

#[tokio::test]
async fn two_years_month_by_month_sum_to_the_whole_period() {
    let tb = Testbed::get();
    let admin = tb.admin("old");
    let dir = tempfile::tempdir().expect("tmp");
    let research = tb.var("OLD_RESEARCH_ID");
    let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
    let archive = UsageArchive {
        session: &admin,
        project_id: &research,
        dir: dir.path(),
        concurrency: 4,
        limit: None,
    };
    let s = archive
        .run(&period("2024-01-01", "2026-01-01"), Some(&tx))
        .await
        .expect("archive");
    drop(tx);
    assert_eq!(s.months.len(), 24);
    assert!(s.sums_match, "{s:?}");
    assert!(
        s.total.total_hours > 5208.0,
        "history beyond the notes' window: {}",
        s.total.total_hours
    );
    let sum: f64 = s.months.iter().map(|m| m.total_hours).sum();
    assert!(
        (sum - s.total.total_hours).abs() < 1e-6,
        "{sum} vs {}",
        s.total.total_hours
    );
    assert!(
        s.months.iter().all(|m| m.total_hours > 0.0),
        "every month has usage in the seed"
    );
    let mut seen = Vec::new();
    while let Some(e) = rx.recv().await {
        if let EngineEvent::UsageMonth(m) = e {
            seen.push(m.month);
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "months arrive in order");
    assert_eq!(seen.len(), 24);
    for f in [
        "total.json",
        "global.json",
        "2024-01.json",
        "2025-12.json",
        "monthly.csv",
    ] {
        assert!(dir.path().join(f).is_file(), "{f}");
    }
    let csv = std::fs::read_to_string(dir.path().join("monthly.csv")).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "month,start,end,total_hours,total_vcpus_usage,total_memory_mb_usage,total_local_gb_usage,servers"
    );
    assert_eq!(lines.len(), 1 + 24 + 2);
    assert!(
        lines[1].starts_with("2024-01,2024-01-01T00:00:00.000000,2024-02-01T00:00:00.000000,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[26].contains("sum of months equals the whole-period total"),
        "{}",
        lines[26]
    );
    let global: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("global.json")).expect("global")).expect("json");
    assert!(global["tenant_usages"].as_array().expect("list").len() >= 2);
}

#[tokio::test]
async fn small_pages_give_the_same_months_and_a_member_gets_no_global_list() {
    let tb = Testbed::get();
    let op = tb.operator("old");
    let research = tb.var("OLD_RESEARCH_ID");
    let p = period("2025-01-01", "2025-07-01");
    let (a, b) = (tempfile::tempdir().expect("tmp"), tempfile::tempdir().expect("tmp"));
    let unpaged = UsageArchive {
        session: &op,
        project_id: &research,
        dir: a.path(),
        concurrency: 2,
        limit: None,
    }
    .run(&p, None)
    .await
    .expect("unpaged");
    let paged = UsageArchive {
        session: &op,
        project_id: &research,
        dir: b.path(),
        concurrency: 2,
        limit: Some(1),
    }
    .run(&p, None)
    .await
    .expect("paged");
    assert_eq!(unpaged.total.total_hours, 5208.0);
    assert_eq!(
        (
            unpaged.total.total_vcpus_usage,
            unpaged.total.total_memory_mb_usage,
            unpaged.total.total_local_gb_usage
        ),
        (16068.0, 32907264.0, 357360.0)
    );
    for (u, p) in unpaged.months.iter().zip(&paged.months) {
        assert_eq!((u.total_hours, u.servers), (p.total_hours, p.servers), "{}", u.month);
    }
    assert!(
        unpaged
            .global_note
            .as_deref()
            .is_some_and(|n| n.contains("admin role") && n.contains("403")),
        "{:?}",
        unpaged.global_note
    );
    assert!(!a.path().join("global.json").exists());
}

#[test]
fn the_usage_command_explains_bad_periods() {
    let tb = Testbed::get();
    let creds = tb.credentials().display().to_string();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_stackmigrate"))
            .args(["--config", &creds, "usage", "--project", "research"])
            .args(extra)
            .output()
            .expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, err) = run(&["--start", "last tuesday", "--end", "2025-02-01"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--start: invalid date \"last tuesday\""), "{err}");
    let (code, _, err) = run(&["--start", "2025-03-01", "--end", "2025-02-01"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("must be before"), "{err}");
    let (code, out, err) = run(&["--start", "2025-01-01", "--end", "2025-07-01"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("sum of months equals") && out.contains("5208.00"), "{out}");
    assert!(
        out.contains("admin role"),
        "the member is told why global.json is missing: {out}"
    );
}

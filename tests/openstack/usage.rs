//! Phase 4 against the real nova-api: the archive's files, the monthly sums
//! against the whole period, paging, the member's 403 on the global list, and
//! the CLI's errors.

use crate::testbed::Testbed;
use stackmigrate::config::naive_time::parse;
use stackmigrate::usage::{check_period, UsageArchive, UsageEvent};
use std::path::Path;
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
        if let UsageEvent::Month(m) = e {
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
        assert!(dir.path().join("latest").join(f).is_file(), "{f}");
    }
    let archive = Path::new(&s.dir);
    assert_eq!(archive, dir.path().join("2024-01-01_2026-01-01"));
    let csv = std::fs::read_to_string(archive.join("monthly.csv")).expect("csv");
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
        serde_json::from_str(&std::fs::read_to_string(archive.join("global.json")).expect("global")).expect("json");
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
    assert_eq!(
        unpaged.months.len(),
        paged.months.len(),
        "the same months, paged or not"
    );
    assert!(!unpaged.months.is_empty());
    assert_eq!(paged.total.total_hours, unpaged.total.total_hours);
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
    assert!(!Path::new(&unpaged.dir).join("global.json").exists());
}

async fn archive_into(
    session: &stackmigrate::openstack::Session,
    project_id: &str,
    dir: &Path,
    start: &str,
    end: &str,
) -> stackmigrate::usage::UsageSummary {
    UsageArchive {
        session,
        project_id,
        dir,
        concurrency: 2,
        limit: None,
    }
    .run(&period(start, end), None)
    .await
    .expect("archive")
}

/// `total_hours` of an archive file, read back from disk.
fn hours_on_disk(file: &Path) -> f64 {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json");
    v["tenant_usage"]["total_hours"].as_f64().unwrap_or(0.0)
}

/// Two runs with different periods in one work dir: the archive in use
/// (`usage/latest`, the summary's dir) holds only the second period's months,
/// and they add up to its total.json on disk. The first run's stays whole, apart.
#[tokio::test]
async fn a_second_period_leaves_no_stale_month_in_the_archive_in_use() {
    let tb = Testbed::get();
    let op = tb.operator("old");
    let research = tb.var("OLD_RESEARCH_ID");
    let root = tempfile::tempdir().expect("tmp");
    let first = archive_into(&op, &research, root.path(), "2024-01-01", "2025-01-01").await;
    let second = archive_into(&op, &research, root.path(), "2025-01-01", "2025-07-01").await;
    let in_use = root.path().join("latest");
    assert_eq!(
        std::fs::canonicalize(&in_use).expect("latest"),
        std::fs::canonicalize(&second.dir).expect("second dir")
    );
    let mut months: Vec<String> = std::fs::read_dir(&in_use)
        .expect("list")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == "YYYY-MM.json".len() && n.ends_with(".json") && n.as_bytes()[4] == b'-')
        .map(|n| n.trim_end_matches(".json").to_string())
        .collect();
    months.sort();
    assert_eq!(
        months,
        ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    );
    let sum: f64 = months
        .iter()
        .map(|m| hours_on_disk(&in_use.join(format!("{m}.json"))))
        .sum();
    let total = hours_on_disk(&in_use.join("total.json"));
    assert!((sum - total).abs() < 1e-6, "months {sum} h vs total {total} h");
    assert!(second.sums_match, "{second:?}");
    let csv = std::fs::read_to_string(in_use.join("monthly.csv")).expect("csv");
    assert!(!csv.contains("2024-"), "{csv}");
    assert_ne!(first.dir, second.dir);
    assert!(Path::new(&first.dir).join("2024-12.json").is_file(), "{}", first.dir);
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
    // Argument errors, found before anything is contacted: exit 64.
    let (code, _, err) = run(&["--start", "last tuesday", "--end", "2025-02-01"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(
        err.contains("--start") && err.contains("invalid date \"last tuesday\""),
        "{err}"
    );
    let (code, _, err) = run(&["--start", "2025-03-01", "--end", "2025-02-01"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("--start/--end") && err.contains("must be before"), "{err}");
    let (code, out, err) = run(&["--start", "2025-01-01", "--end", "2025-07-01"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("sum of months equals") && out.contains("5208.00"), "{out}");
    assert!(
        out.contains("admin role"),
        "the member is told why global.json is missing: {out}"
    );
}

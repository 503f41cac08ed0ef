//! A volume named to fool the operator ("evil\nfinished: 99 of 99
//! verified\e[31mRED…") shows escaped in `volumes`, in the headless
//! progress lines and in report.md, and exact in the JSON outputs.

use crate::fixtures::*;
use crate::testbed::Testbed;

const EVIL: &str = "evil\nfinished: 99 of 99 verified\u{1b}[31mRED\u{1b}[0m|pipe";
const SHOWN: &str = "evil\\nfinished: 99 of 99 verified\\u{1b}[31mRED\\u{1b}[0m";

fn no_fake_lines(what: &str, out: &str) {
    assert!(!out.contains('\u{1b}'), "raw escape in {what}:\n{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("finished: 99")),
        "fake line in {what}:\n{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_in_a_volume_name_are_escaped_wherever_it_is_shown() {
    let tb = Testbed::get();
    let v = source_volume(&tb, EVIL, 1, &[(0, noise(16, 1 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false).display().to_string();

    let out = stackmigrate(dir.path(), &["--config", &cfg, "volumes", "--project", "research"]);
    let listing = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    no_fake_lines("volumes", &listing);
    assert!(listing.contains(SHOWN), "{listing}");
    let out = stackmigrate(
        dir.path(),
        &["--config", &cfg, "volumes", "--project", "research", "--json"],
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let exact = rows
        .as_array()
        .expect("array")
        .iter()
        .any(|r| r["id"] == v.id.as_str() && r["name"] == EVIL);
    assert!(exact, "JSON keeps the name exact");

    let out = stackmigrate(
        dir.path(),
        &[
            "--config",
            &cfg,
            "migrate",
            "--project",
            "research",
            "--volumes",
            &v.id,
            "--yes",
        ],
    );
    let progress = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{progress}\n{}", text(&out.stderr));
    no_fake_lines("migrate", &progress);
    let project_dir = dir.path().join("work").join(tb.var("OLD_RESEARCH_ID"));
    let md = std::fs::read_to_string(project_dir.join("report.md")).expect("report.md");
    no_fake_lines("report.md", &md);
    assert!(md.contains(&format!("{SHOWN}\\|pipe")), "escaped, pipe too: {md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(project_dir.join("report.json")).expect("json")).expect("json");
    assert_eq!(json["volumes"][0]["name"], EVIL, "report.json keeps the name exact");

    let copies: Vec<String> = copies_of(&tb, &v.id).await.into_iter().map(|c| c.id).collect();
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
    delete_volumes(
        &tb.operator("new"),
        &copies.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .await;
}

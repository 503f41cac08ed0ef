//! The real binary in tmux against the real testbed, driven with
//! `send-keys` and read with `capture-pane`, as an operator would use it.
//! Each test makes its own volumes (a unique tag in their names) and finds
//! them with the `/` filter, since other tests use the same project.

use crate::fixtures::*;
use crate::testbed::{unique, Testbed};
use stackmigrate::engine::STATE_KEY;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A detached tmux session running the TUI, on a tmux server of its own
/// (`-L`: never the operator's); the server is killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.name]);
        c
    }

    fn start(dir: &Path, config: &Path) -> Tmux {
        Self::start_args(dir, &format!("--config {}", config.display()))
    }

    /// Runs `stackmigrate <args>` (args are trusted test text).
    fn start_args(dir: &Path, args: &str) -> Tmux {
        let name = unique("smtui").replace('-', "_");
        let cmd = format!(
            "{} {args} --log-file {}; echo TUI-EXIT=$?; sleep 600",
            env!("CARGO_BIN_EXE_stackmigrate"),
            dir.join("stackmigrate.log").display()
        );
        let path = std::env::var("PATH").unwrap_or_default();
        let ok = Command::new("tmux")
            .args(["-L", &name, "new-session", "-d", "-s", &name, "-x", "120", "-y", "40"])
            .args(["-e", &format!("PATH={path}")])
            .arg(cmd)
            .status()
            .expect("tmux (apt install tmux; testbed/install.sh lists it)")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { name }
    }

    fn screen(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let ok = self
            .tmux()
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .expect("send-keys")
            .success();
        assert!(ok, "send-keys {keys:?}");
        // Let the TUI draw before the next look.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Types text literally (no key names).
    fn type_text(&self, text: &str) {
        self.send(&["-l", text]);
    }

    /// Polls the screen until `done` holds; fails with the last screen.
    fn wait(&self, what: &str, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        match self.poll(timeout, &done) {
            Ok(s) => s,
            Err(s) => panic!("waited {timeout:?} for {what}; the screen:\n{s}"),
        }
    }

    /// Polls the screen until `done` holds (`Ok`), or `timeout` (`Err`, the last screen).
    fn poll(&self, timeout: Duration, done: &impl Fn(&str) -> bool) -> Result<String, String> {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if done(&s) {
                return Ok(s);
            }
            if start.elapsed() >= timeout {
                return Err(s);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Moves the dashboard's selection to the row naming `name`.
    fn select(&self, name: &str) {
        for _ in 0..50 {
            if self.screen().lines().any(|l| l.contains('›') && l.contains(name)) {
                return;
            }
            self.send(&["Down"]);
        }
        panic!("{name} not found in the list:\n{}", self.screen());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

const SLOW: Duration = Duration::from_secs(300);

/// A short unique tag: names must fit the dashboard's list column.
fn tag(prefix: &str) -> String {
    let u = unique(prefix);
    let digits: String = u.chars().rev().take(7).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{prefix}{digits}")
}

/// From start to the volumes of research filtered to `tag`, both ticked, on the plan.
fn to_plan(t: &Tmux, tag: &str) {
    t.wait("the checks", SLOW, |s| s.contains("Checks: all passed"));
    t.send(&["Enter"]);
    t.wait("the projects", SLOW, |s| {
        s.contains("research") && !s.contains("loading")
    });
    t.type_text("/research");
    t.send(&["Enter", "Enter"]);
    t.wait("the volumes", SLOW, |s| {
        s.contains("Volumes of research (") && s.contains(tag)
    });
    t.type_text(&format!("/{tag}"));
    t.send(&["Enter"]);
    t.wait("the filter", SLOW, |s| s.contains("(2 of "));
    t.send(&["a"]);
    t.wait("two ticked", SLOW, |s| s.contains("2 ticked"));
    t.send(&["Enter"]);
    t.wait("pre-flight", SLOW, |s| s.contains("y starts the migration"));
}

async fn verified_once(tb: &Testbed, source: &str) {
    let copies = copies_of(tb, source).await;
    assert_eq!(copies.len(), 1, "one copy of {source}: {copies:?}");
    assert_eq!(
        copies[0].metadata.get(STATE_KEY).map(String::as_str),
        Some("verified"),
        "{:?}",
        copies[0].metadata
    );
}

async fn cleanup(tb: &Testbed, sources: &[&str]) {
    let mut news = Vec::new();
    for s in sources {
        news.extend(copies_of(tb, s).await.into_iter().map(|v| v.id));
    }
    delete_volumes(&tb.operator("old"), sources).await;
    let refs: Vec<&str> = news.iter().map(String::as_str).collect();
    delete_volumes(&tb.operator("new"), &refs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_migrates_two_ticked_volumes() {
    let tb = Testbed::get();
    let tag = tag("tui");
    let a = source_volume(&tb, &format!("{tag}-a"), 1, &[(0, noise(61, 4 << 20))], true).await;
    let b = source_volume(&tb, &format!("{tag}-b"), 1, &[(GIB / 2, noise(62, 2 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false);
    let started = Instant::now();
    let t = Tmux::start(dir.path(), &cfg);
    to_plan(&t, &tag);
    t.send(&["y"]);
    let end = t.wait("the summary", SLOW, |s| s.contains("2 of 2 verified in the new cloud"));
    println!("tmux run took {:?}; the summary:\n{end}", started.elapsed());
    assert!(
        end.contains(&format!("{tag}-a")) || end.contains("report.json"),
        "{end}"
    );
    verified_once(&tb, &a.id).await;
    verified_once(&tb, &b.id).await;
    // Quitting while the usage archive still runs would leave it unfinished (exit 2).
    t.wait("the usage archive", SLOW, |s| {
        s.contains("usage") && !s.contains("still archiving")
    });
    t.send(&["q"]);
    t.wait("the exit", Duration::from_secs(30), |s| s.contains("TUI-EXIT=0"));
    cleanup(&tb, &[&a.id, &b.id]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_aborts_one_volume_then_retries_it() {
    let tb = Testbed::get();
    let tag = tag("abt");
    let a = source_volume(&tb, &format!("{tag}-a"), 1, &[(0, noise(71, 3 << 20))], false).await;
    let b = source_volume(&tb, &format!("{tag}-b"), 1, &[(0, noise(72, 3 << 20))], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    // The tape copy waits for a release file: both volumes stay in their
    // transfer until the test lets them go, so the abort hits a running stage.
    let release = dir.path().join("release");
    let tape_dir = dir.path().join("tape");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.2; done; cp --sparse=always \"$1\" {}/",
        release.display(),
        tape_dir.display()
    );
    let tape = vec!["sh".into(), "-c".into(), script, "tape".into(), "{file}".into()];
    let cfg = migrate_config(&tb, dir.path(), Some(tape), false);
    let started = Instant::now();
    let t = Tmux::start(dir.path(), &cfg);
    to_plan(&t, &tag);
    t.send(&["y"]);
    let names = [format!("{tag}-a"), format!("{tag}-b")];
    // One tape slot: one volume tapes (held by the release file), the other waits.
    let in_list = |s: &str, name: &str, label: &str| {
        s.lines()
            .any(|l| l.contains('▶') && l.contains(name) && l.contains(label))
    };
    let shot = t.wait("one taping, one waiting", SLOW, |s| {
        names.iter().any(|n| in_list(s, n, "tape 0%")) && names.iter().any(|n| in_list(s, n, "waiting"))
    });
    let (victim, other) = if in_list(&shot, &names[0], "tape 0%") {
        (&names[0], &names[1])
    } else {
        (&names[1], &names[0])
    };
    t.select(victim);
    t.send(&["x"]);
    t.wait("the abort dialog", SLOW, |s| {
        s.contains("Abort ") && s.contains("Cancel")
    });
    t.send(&["Tab", "Enter"]);
    t.wait("the victim aborted", SLOW, |s| {
        s.lines().any(|l| l.contains(victim.as_str()) && l.contains("aborted"))
    });
    std::fs::write(&release, b"go").expect("release the tape");
    let shot = t.wait("the other done, the victim aborted", SLOW, |s| {
        s.lines().any(|l| l.contains(other.as_str()) && l.contains("done")) && s.contains("retry volume")
    });
    println!("after the abort:\n{shot}");
    t.send(&["r"]);
    let end = t.wait("the summary", SLOW, |s| s.contains("2 of 2 verified in the new cloud"));
    println!("abort + retry took {:?}; the summary:\n{end}", started.elapsed());
    verified_once(&tb, &a.id).await;
    verified_once(&tb, &b.id).await;
    // Quitting while the usage archive still runs would leave it unfinished (exit 2).
    t.wait("the usage archive", SLOW, |s| {
        s.contains("usage") && !s.contains("still archiving")
    });
    t.send(&["q"]);
    t.wait("the exit", Duration::from_secs(30), |s| s.contains("TUI-EXIT=0"));
    cleanup(&tb, &[&a.id, &b.id]).await;
}

/// `stackmigrate demo` as a newcomer would run it: the whole walk on the
/// simulated clouds, with the dashboard checked mid-run; the volumes of the
/// running servers are warm-synced, a cutover is refused while db-1 runs,
/// and `C` cuts them all over once the maintenance window stopped it.
#[test]
fn tmux_demo_walkthrough_with_the_dashboard_mid_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = Tmux::start_args(
        dir.path(),
        &format!(
            "demo --throttle 8 --maintenance-after 60 --work-dir {}",
            dir.path().display()
        ),
    );
    t.wait("the checks", Duration::from_secs(60), |s| {
        s.contains("Checks: all passed")
    });
    t.send(&["Enter"]);
    t.wait("the projects", Duration::from_secs(30), |s| {
        s.contains("research") && s.contains("203")
    });
    t.type_text("/research");
    t.send(&["Enter"]);
    t.send(&["Enter"]);
    t.wait("the volumes", Duration::from_secs(30), |s| {
        s.contains("broken-vol") && s.contains("web-1 (ACTIVE)") && s.contains("gpu-1 (SHUTOFF)")
    });
    t.send(&["a"]);
    t.send(&["Enter"]);
    let plan = t.wait("the plan", Duration::from_secs(60), |s| {
        s.contains("Pre-flight") && s.contains("tape command cp is installed")
    });
    assert!(
        plan.contains("⚠ in use by web-1 (ACTIVE)") && plan.contains("attached to gpu-1 (SHUTOFF): stopped"),
        "{plan}"
    );
    t.send(&["y"]);
    let mid = t.wait("the dashboard mid-run", Duration::from_secs(60), |s| {
        s.contains("Export ·")
            && s.contains("Import + tape")
            && s.contains("Usage ·")
            && s.contains("MiB/s")
            && s.contains('%')
    });
    assert!(mid.contains("Dashboard") && mid.contains("verified"), "{mid}");
    println!("dashboard mid-run:\n{mid}");
    let synced = t.wait("a second sync round", SLOW, |s| s.contains("synced (round 2)"));
    println!("warm sync:\n{synced}");
    t.send(&["C"]);
    t.wait("the cutover dialog", Duration::from_secs(10), |s| {
        s.contains("synced volumes over?") || s.contains(" over? ")
    });
    t.send(&["Tab", "Enter"]);
    let refused = t.wait("the refusal", Duration::from_secs(60), |s| {
        s.contains("cutover refused: server db-1") || s.contains("cutover refused: server web-1")
    });
    assert!(refused.contains("ACTIVE"), "{refused}");
    t.wait("the maintenance window", Duration::from_secs(120), |s| {
        s.contains("maintenance window")
    });
    // C again until every synced volume is cut over (one still in round 1 is not offered yet).
    let start = Instant::now();
    let end = loop {
        let s = t.screen();
        if s.contains("of 11 verified in the new cloud") {
            break s;
        }
        assert!(start.elapsed() < SLOW, "waited for the cutovers; the screen:\n{s}");
        if s.contains("synced (round") && !s.contains("Keep syncing") {
            t.send(&["C"]);
            // Confirmed only once the dialog is up: keys sent blind would reach the dashboard.
            let dialog = |s: &str| s.contains(" over? ");
            if t.poll(Duration::from_secs(10), &dialog).is_ok() {
                t.send(&["Tab", "Enter"]);
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert!(end.contains("11 of 11 verified") && end.contains("0 failed"), "{end}");
    t.send(&["q"]);
    t.wait("the exit", Duration::from_secs(30), |s| s.contains("TUI-EXIT=0"));
}

/// `migrate` catches Ctrl-C from pre-flight on (to stop a slow used-bytes measure), so
/// at the confirmation prompt Ctrl-C must still answer "no" and end it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tmux_ctrl_c_at_the_migrate_prompt_starts_nothing() {
    let tb = Testbed::get();
    let v = source_volume(&tb, &tag("prompt"), 1, &[], false).await;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = migrate_config(&tb, dir.path(), None, false);
    let args = format!(
        "--config {} migrate --project research --volumes {}",
        cfg.display(),
        v.id
    );
    let t = Tmux::start_args(dir.path(), &args);
    t.wait("the prompt", SLOW, |s| s.contains("start migrating 1 volume(s)? [y/N]"));
    t.send(&["C-c"]);
    let end = t.wait("the exit", Duration::from_secs(10), |s| s.contains("TUI-EXIT="));
    assert!(end.contains("TUI-EXIT=1") && end.contains("not confirmed"), "{end}");
    assert!(copies_of(&tb, &v.id).await.is_empty(), "nothing started");
    delete_volumes(&tb.operator("old"), &[&v.id]).await;
}

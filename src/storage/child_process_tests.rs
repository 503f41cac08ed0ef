//! Children stopped whole: TERM, grace, KILL to the group; dropped ones too.
use super::*;

fn argv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn exit_code_and_stderr_tail_are_kept() {
    let c =
        ChildProcess::spawn(&argv(&["sh", "-c", "echo one >&2; echo two >&2; exit 3"]), false, false).expect("spawn");
    let exit = c.wait(&CancellationToken::new()).await.expect("wait");
    assert_eq!(
        exit,
        ChildExit::Exited {
            code: Some(3),
            stderr: "one\ntwo".into()
        }
    );
    assert_eq!(exit.last_words(), Some("two"), "why it failed");
    let fine = ChildExit::Exited {
        code: Some(0),
        stderr: "a note".into(),
    };
    assert_eq!(fine.last_words(), None, "a child that succeeded has no last words");
}

/// Spawns `sh -c script` (which prints a pid first) and reads that pid.
async fn spawn_printing_a_pid(script: &str) -> (ChildProcess, u32) {
    let mut c = ChildProcess::spawn(&argv(&["sh", "-c", script]), false, true).expect("spawn");
    let mut out = c.take_stdout().expect("stdout");
    let pid = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(&mut out)
            .read_line(&mut line)
            .expect("read pid");
        line.trim().parse().expect("pid")
    })
    .await
    .expect("join");
    (c, pid)
}

#[tokio::test]
async fn cancel_stops_the_whole_group_even_if_term_is_ignored() {
    // The shell ignores TERM and its child sleeps: only the group SIGKILL ends both.
    let (c, sleeper) = spawn_printing_a_pid("trap '' TERM; sleep 30 & echo $!; wait").await;
    let token = CancellationToken::new();
    token.cancel();
    let exit = c.wait(&token).await.expect("wait");
    assert!(matches!(exit, ChildExit::Cancelled { .. }), "{exit:?}");
    // The grandchild was in the group: it is gone (or a zombie about to be reaped).
    let mut alive = true;
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
        alive = !stat.is_empty() && !stat.contains(") Z ");
        if !alive {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive, "sleep {sleeper} survived the group kill");
}

#[tokio::test]
async fn a_member_ignoring_term_is_killed_after_the_grace_though_the_leader_ended() {
    // The shell ends on TERM; its subshell's sleep ignores it.
    let (c, sleeper) = spawn_printing_a_pid("(trap '' TERM; exec sleep 30) & echo $!; wait").await;
    let token = CancellationToken::new();
    token.cancel();
    let exit = c.wait(&token).await.expect("wait");
    assert!(matches!(exit, ChildExit::Cancelled { .. }), "{exit:?}");
    // SIGKILL was sent, and `wait` returned only once the sleep was gone
    // (a drive slot is freed after every member has let the drive go).
    let stat = std::fs::read_to_string(format!("/proc/{sleeper}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z ") || stat.contains(") X "),
        "sleep {sleeper} still runs after wait: {stat}"
    );
}

/// Whether process `pid` is gone or only a zombie, within 5 s.
async fn ends(pid: u32) -> bool {
    for _ in 0..50 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty() || stat.contains(") Z ") {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A child dropped unwaited (its task dropped, the dashboard's runtime
/// shut down) takes its whole group along, not only the leader.
#[tokio::test]
async fn a_dropped_child_takes_its_group_along() {
    let (c, sleeper) = spawn_printing_a_pid("sleep 30 & echo $!; wait").await;
    drop(c);
    assert!(ends(sleeper).await, "sleep {sleeper} outlived its dropped group");
}

/// A second signal leaves with `std::process::exit`, which runs no
/// destructor: `kill_all_groups` stops every live child's group first.
#[tokio::test]
async fn kill_all_groups_stops_every_live_childs_group() {
    let (c, sleeper) = spawn_printing_a_pid("sleep 30 & echo $!; wait").await;
    kill_all_groups();
    assert!(ends(sleeper).await, "sleep {sleeper} survived kill_all_groups");
    let exit = c.wait(&CancellationToken::new()).await.expect("wait");
    assert!(matches!(exit, ChildExit::Exited { code: None, .. }), "{exit:?}");
}

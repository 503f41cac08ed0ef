//! The compiled Ceph helper (`assets/rbd_helper.cc`) must send, byte for
//! byte, the streams the Python helpers send for the same round: the engine
//! runs every round with it where it runs, and the Python helpers are the
//! ones the cutover tests proved against `rbd export`. The reader, on the old
//! cluster: an image read object by object (new objects with holes, changed
//! objects, zeros written over data, a discarded object, a write across two
//! objects, and 97 runs of changed objects, which the Python reader lists
//! whole and the compiled one by run), from a snapshot (`go`) and under the
//! lock (`lock`); and the
//! images it reads through librbd instead (a clone, one striped, and one with
//! a QoS limit, which only librbd applies). The
//! writer, on the new cluster: that round's stream (zero records included)
//! applied to two equal images, its guard answer, its read-back, the
//! snapshots it removes, and the images it leaves.

use crate::testbed::{unique, Testbed};
use stackmigrate::storage::compiled_helper::CompiledHelper;
use std::io::Write;
use std::process::{Command, Stdio};

const SETUP: &str = r#"
import sys
import rados, rbd

conf, name = sys.argv[1], sys.argv[2]
OBJ = 4 << 20
c = rados.Rados(conffile=conf, rados_id="admin")
c.connect()
io = c.open_ioctx("volumes")
features = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF

def data(n, seed):
    # No zero byte: every piece of it is data.
    pattern = bytes((i * 131 + seed * 7) % 251 + 1 for i in range(251))
    return (pattern * (n // 251 + 1))[:n]

def changes(img, base):
    # Objects 0-7 hold data at the base snapshot; then, before the next one:
    img.create_snap(base)
    for k, off in ((9, 1 << 20), (9, 3 << 20), (12, 0), (20, OBJ - 65536)):
        img.write(data(65536, k), k * OBJ + off)       # new objects, holes between
    img.write(data(8192, 1), 1 * OBJ + 12288)           # a changed object
    img.write(bytes(65536), 2 * OBJ + (1 << 20))         # zeros over data
    img.discard(3 * OBJ, OBJ)                            # a discarded object
    img.write(data(131072, 4), 5 * OBJ - 65536)          # across two objects
    img.create_snap(base + "-next")

def fill(img):
    for k in range(8):
        img.write(data(OBJ if k % 2 else 65536, k), k * OBJ)

rbd.RBD().create(io, name, 96 << 20, old_format=False, features=features)
with rbd.Image(io, name) as img:
    fill(img)
    changes(img, "a")
    img.create_snap("base")
    img.protect_snap("base")
    # The head moves on: a round read from its snapshot must not see this.
    img.write(data(65536, 11), 9 * OBJ + (2 << 20))
    img.write(data(4096, 12), 1 * OBJ)
rbd.RBD().clone(io, name, "base", io, name + "-clone", features=features)
with rbd.Image(io, name + "-clone") as img:
    img.write(data(65536, 9), 7 * OBJ)
    changes(img, "a")
rbd.RBD().create(io, name + "-small", 96 << 20, order=20, old_format=False, features=features)
with rbd.Image(io, name + "-small") as img:
    fill(img)
    changes(img, "a")
# A librbd QoS limit (high: it must not slow the test), which only librbd applies.
rbd.RBD().create(io, name + "-qos", 96 << 20, old_format=False, features=features)
with rbd.Image(io, name + "-qos") as img:
    img.metadata_set("conf_rbd_qos_bps_limit", str(1 << 30))
    fill(img)
    changes(img, "a")
rbd.RBD().create(io, name + "-striped", 96 << 20, old_format=False, features=features | rbd.RBD_FEATURE_STRIPINGV2,
                 stripe_unit=65536, stripe_count=4)
with rbd.Image(io, name + "-striped") as img:
    fill(img)
    changes(img, "a")
# Many runs of changed objects (97, past the Python reader's 64): that one
# lists the whole image, the compiled one only the runs, several at once.
rbd.RBD().create(io, name + "-runs", 256 << 20, order=20, old_format=False, features=features)
with rbd.Image(io, name + "-runs") as img:
    for k in range(0, 256, 4):
        img.write(data(65536, k % 7), k << 20)
    img.create_snap("a")
    for k in range(1, 256, 2):
        img.write(data(4096, k % 5), (k << 20) + 8192)
    for k in range(0, 256, 8):
        img.write(bytes(65536), k << 20)                 # zeros over data
    img.create_snap("a-next")
io.close()
c.shutdown()
"#;

const CLEANUP: &str = r#"
import sys
import rados, rbd

conf, name = sys.argv[1], sys.argv[2]
c = rados.Rados(conffile=conf, rados_id="admin")
c.connect()
io = c.open_ioctx("volumes")
for image in (name + "-clone", name + "-striped", name + "-small", name + "-qos", name + "-runs", name):
    try:
        with rbd.Image(io, image) as img:
            for s in list(img.list_snaps()):
                if img.is_protected_snap(s["name"]):
                    img.unprotect_snap(s["name"])
                img.remove_snap(s["name"])
        rbd.RBD().remove(io, image)
    except rbd.ImageNotFound:
        pass
io.close()
c.shutdown()
"#;

fn python(script: &str, args: &[&str]) {
    let out = Command::new("/usr/bin/python3")
        .args(["-c", script])
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One reader's stream of `image` since `from`, sent `line`, and what it said on stderr.
fn read(program: &[String], conf: &str, image: &str, (from, to): (&str, &str), line: &str) -> (Vec<u8>, String) {
    let (head, rest) = program.split_first().expect("program");
    let mut child = Command::new(head)
        .args(rest)
        .args([
            conf, "admin", "-", "30", "volumes", image, from, to, "65536", "33554432",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reader");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(line.as_bytes())
        .expect("line");
    let out = child.wait_with_output().expect("reader");
    assert!(
        out.status.success(),
        "{head} {image} {line}: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The records of a stream, as (tag, offset, length), to say where two differ.
fn records(s: &[u8]) -> Vec<(u8, u64, u64)> {
    let le = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let (mut out, mut at) = (Vec::new(), 12);
    while at < s.len() {
        match s[at] {
            b's' => at += 9,
            b'e' => at += 1,
            tag => {
                let (off, len) = (le(at + 1), le(at + 9));
                out.push((tag, off, len));
                at += 17 + if tag == b'w' { len as usize } else { 0 };
            }
        }
    }
    out
}

#[tokio::test]
async fn the_compiled_helper_sends_the_python_helpers_streams() {
    let tb = Testbed::get();
    let compiled = CompiledHelper::probe()
        .await
        .expect("the compiled helper runs on the testbed's machine (testbed/install.sh installs its headers)");
    let conf = tb.var("OLD_CEPH_CONF");
    let name = unique("reader").replace(' ', "-");
    python(SETUP, &[&conf, &name]);
    let py = [
        "/usr/bin/python3".to_string(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/assets/rbd_delta_reader.py").into(),
    ];
    let cc = [compiled.path(), "read".into()];
    // (image, round, line, whether the compiled reader reads objects directly)
    let cases = [
        (name.clone(), ("a", "a-next"), "go\n", true),
        (name.clone(), ("a", "-"), "lock\n", true),
        (name.clone(), ("-", "a-next"), "go\n", true),
        (format!("{name}-small"), ("a", "a-next"), "go\n", true),
        (format!("{name}-runs"), ("a", "a-next"), "go\n", true),
        (format!("{name}-clone"), ("a", "a-next"), "go\n", false),
        (format!("{name}-striped"), ("a", "a-next"), "go\n", false),
        (format!("{name}-qos"), ("a", "a-next"), "go\n", false),
    ];
    let mut failed = Vec::new();
    for (image, round, line, direct) in &cases {
        let (want, (got, said)) = (
            read(&py, &conf, image, *round, line).0,
            read(&cc, &conf, image, *round, line),
        );
        // Which way it read, so that a reader that never reads objects
        // directly cannot pass for one that does.
        let objects = said.contains(" 0 pieces read from their RADOS objects");
        let through = said.contains(" 0 through librbd");
        if *direct != (!objects && through) {
            failed.push(format!("{image} {round:?}: read the other way: {said}"));
        }
        let recs = records(&want);
        assert!(
            recs.iter().any(|r| r.0 == b'w') && recs.iter().any(|r| r.0 == b'z'),
            "{image} {round:?}: the case has data and zeros: {recs:?}"
        );
        if want != got {
            failed.push(format!(
                "{image} {round:?} {line:?}:\n python   {recs:?}\n compiled {:?}",
                records(&got)
            ));
        }
    }
    let round = read(&py, &conf, &name, ("a", "a-next"), "go\n").0;
    python(CLEANUP, &[&conf, &name]);
    assert!(failed.is_empty(), "streams differ:\n{}", failed.join("\n"));

    let new_conf = tb.var("NEW_CEPH_CONF");
    python(TARGETS, &[&new_conf, &name, "setup"]);
    let py = [
        "/usr/bin/python3".to_string(),
        "-c".into(),
        [
            include_str!("../../assets/rados_checksums.py"),
            include_str!("../../assets/rbd_stage_readback.py"),
        ]
        .concat(),
    ];
    let cc = [compiled.path(), "write".into()];
    // The compiled one also with a window of one record, so that its
    // read-backs are waited for and sent in order while it writes.
    let (want, got, narrow) = (
        write(&py, &new_conf, &format!("{name}-py"), &round, "33554432"),
        write(&cc, &new_conf, &format!("{name}-cc"), &round, "33554432"),
        write(&cc, &new_conf, &format!("{name}-cc1"), &round, "65536"),
    );
    let checked = Command::new("/usr/bin/python3")
        .args(["-c", TARGETS, &new_conf, &name, "check"])
        .output()
        .expect("python3");
    python(TARGETS, &[&new_conf, &name, "cleanup"]);
    assert_eq!(want.0, got.0, "the guard's answers");
    assert!(
        want.0["written"].as_array().is_some_and(|w| !w.is_empty()),
        "{}",
        want.0
    );
    assert!(
        records(&want.1).iter().any(|r| r.0 == b'z'),
        "zeros over data were written and read back"
    );
    assert!(
        want.1 == narrow.1 && want.0 == narrow.0,
        "read-back streams differ with a narrow window:\n python   {:?}\n compiled {:?}",
        records(&want.1),
        records(&narrow.1)
    );
    assert!(
        want.1 == got.1,
        "read-back streams differ:\n python   {:?}\n compiled {:?}",
        records(&want.1),
        records(&got.1)
    );
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        said.matches("images equal; snapshots ['base'] and ['base']").count(),
        2,
        "{said}"
    );
}

const TARGETS: &str = r#"
import sys
import rados, rbd

conf, name, job = sys.argv[1], sys.argv[2], sys.argv[3]
OBJ = 4 << 20
c = rados.Rados(conffile=conf, rados_id="admin")
c.connect()
io = c.open_ioctx("volumes")
features = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF
for image in (name + "-py", name + "-cc", name + "-cc1"):
    if job == "setup":
        rbd.RBD().create(io, image, 96 << 20, old_format=False, features=features)
        with rbd.Image(io, image) as img:
            for k in range(8):
                img.write(bytes([k + 1]) * OBJ, k * OBJ)
            img.create_snap("base")
            img.create_snap("drop-1")
            img.write(b"\x07" * 65536, 2 * OBJ)
    elif job == "cleanup":
        try:
            with rbd.Image(io, image) as img:
                for s in list(img.list_snaps()):
                    img.remove_snap(s["name"])
            rbd.RBD().remove(io, image)
        except rbd.ImageNotFound:
            pass
if job == "check":
    for other in (name + "-cc", name + "-cc1"):
        with rbd.Image(io, name + "-py", read_only=True) as a, rbd.Image(io, other, read_only=True) as b:
            for off in range(0, a.size(), OBJ):
                assert a.read(off, OBJ) == b.read(off, OBJ), "images differ at %d" % off
            snaps = [sorted(s["name"] for s in i.list_snaps()) for i in (a, b)]
        print("images equal; snapshots %s and %s" % tuple(snaps))
io.close()
c.shutdown()
"#;

/// One writer's guard answer (its `g` record) and read-back stream, given
/// `stream` for `image` (base snapshot `base`, snapshots `drop-*` removed).
fn write(program: &[String], conf: &str, image: &str, stream: &[u8], window: &str) -> (serde_json::Value, Vec<u8>) {
    let (head, rest) = program.split_first().expect("program");
    let mut child = Command::new(head)
        .args(rest)
        .args([
            conf, "admin", "-", "30", "volumes", image, window, "drop-", "base", "bytes",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("writer");
    let mut stdin = child.stdin.take().expect("stdin");
    let out = std::thread::scope(|s| {
        s.spawn(move || stdin.write_all(stream).expect("stream"));
        child.wait_with_output().expect("writer")
    });
    assert!(
        out.status.success(),
        "{head} {image}: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let o = out.stdout;
    assert_eq!(o.first(), Some(&b'g'), "{head}: the guard's answer first");
    let n = u32::from_le_bytes(o[1..5].try_into().expect("4 bytes")) as usize;
    let facts = serde_json::from_slice(&o[5..5 + n]).expect("the guard's answer is JSON");
    (facts, o[5 + n..].to_vec())
}

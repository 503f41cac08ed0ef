//! The delta reader's listing (`assets/rbd_delta_reader.py`, `changes`):
//! narrowed by the fast-diff object map, it must list exactly what librbd's
//! whole-image listing lists, or a change would never be sent. Checked on
//! the old cluster with few runs of changed objects (narrowed), many
//! (whole), a discard, and a snapshot read instead of the head.

use crate::testbed::{unique, Testbed};
use std::process::Command;

const SCRIPT: &str = r#"
import importlib.util, sys
import rados, rbd

spec = importlib.util.spec_from_file_location("reader", sys.argv[1])
reader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reader)
conf, name = sys.argv[2], sys.argv[3]
OBJ = 4 << 20

class Spy:
    """Counts the object-map questions `changes` asks."""
    def __init__(self, img):
        self.img, self.whole, self.ranges = img, 0, []
    def features(self):
        return self.img.features()
    def flags(self):
        return self.img.flags()
    def diff_iterate(self, off, n, *args, **kw):
        if kw.get("whole_object"):
            self.whole += 1
        else:
            self.ranges.append((off, n))
        return self.img.diff_iterate(off, n, *args, **kw)

def full(img, snap):
    out = []
    img.diff_iterate(0, img.size(), snap, lambda o, n, e: out.append((o, n, e)))
    return out

def check(img, snap, what, narrowed):
    spy = Spy(img)
    got, want = reader.changes(spy, snap, img.size()), full(img, snap)
    assert want, "%s: nothing changed, nothing checked" % what
    assert got == want, "%s: %r != %r" % (what, got[:8], want[:8])
    # Narrowed: the object map asked once, then only runs of objects listed.
    whole_image = (0, img.size()) in spy.ranges
    assert spy.whole == 1 and whole_image != narrowed, (what, spy.whole, spy.ranges[:4])
    print("%s: %d extents in %d listing(s), same as the whole listing" % (what, len(got), len(spy.ranges)))

c = rados.Rados(conffile=conf, rados_id="admin")
c.connect()
io = c.open_ioctx("volumes")
features = rbd.RBD_FEATURE_LAYERING | rbd.RBD_FEATURE_EXCLUSIVE_LOCK | rbd.RBD_FEATURE_OBJECT_MAP | rbd.RBD_FEATURE_FAST_DIFF
rbd.RBD().create(io, name, 1 << 30, old_format=False, features=features)
try:
    with rbd.Image(io, name) as img:
        data = b"\x5a" * 4096
        for k in range(0, 40, 2):
            img.write(data, k * OBJ + 8192)
        img.create_snap("a")
        # Few runs: objects 3-5 (one run, 3 is new since a) and 100 (new).
        for k in (3, 4, 5, 100):
            img.write(data, k * OBJ + 65536)
        img.write(data, 5 * OBJ + 3 * (1 << 20))
        check(img, "a", "few runs", True)
        img.create_snap("b")
        # Many runs: every other object (128 runs, more than NARROW_RUNS).
        for k in range(1, 256, 2):
            img.write(data, k * OBJ + (1 << 20))
        check(img, "b", "many runs", False)
        img.create_snap("c")
        # A discarded object and a partly written one.
        img.discard(10 * OBJ, OBJ)
        img.write(data, 12 * OBJ + 12288)
        check(img, "c", "discard", True)
        img.create_snap("d")
    with rbd.Image(io, name, snapshot="d", read_only=True) as snap:
        check(snap, "a", "snapshot d since a", False)
        check(snap, "c", "snapshot d since c", True)
    print("listings equal")
finally:
    with rbd.Image(io, name) as img:
        for s in list(img.list_snaps()):
            img.remove_snap(s["name"])
    rbd.RBD().remove(io, name)
    io.close()
    c.shutdown()
"#;

#[test]
fn the_readers_narrowed_listing_equals_librbds_whole_listing() {
    let tb = Testbed::get();
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/rbd_delta_reader.py");
    let name = unique("listing").replace(' ', "-");
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, reader, &tb.var("OLD_CEPH_CONF"), &name])
        .output()
        .expect("python3");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}\n{}", String::from_utf8_lossy(&out.stderr));
    for what in [
        "few runs",
        "many runs",
        "discard",
        "snapshot d since c",
        "listings equal",
    ] {
        assert!(said.contains(what), "{what} not checked:\n{said}");
    }
}

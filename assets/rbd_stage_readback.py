# stackmigrate's staging writer with read-back (see src/storage/readback_stage.rs).
#
# Reads an `rbd diff v1` stream on stdin and applies it to an existing image,
# as `rbd import-diff -` does, with the librbd cache off: a write completes
# only once the OSDs hold it. As soon as a data record's write completes, its
# extent is read back from the cluster, and the bytes read are written to
# stdout as an `rbd diff v1` stream, in input order. stackmigrate hashes that
# stream exactly as it hashes `rbd export-diff` of the image: the copy is
# verified while it is made, and every byte compared was read from the new
# cluster after its write was acknowledged.
#
# A `z` record (zeros over data, in a warm-sync round) is written with
# write_zeroes and read back the same way, and sent on as `z` where it reads
# as zeros. No from/to snapshot records are taken: the caller checks the
# image is at the round's from-snapshot, and creates the to-snapshot once
# the round is verified.
#
# With a snapshot prefix (else `-`), the image's snapshots whose names start
# with it are removed while the stream is applied, from its first change on
# (a warm sync's final round needs none, and each removal waits for a
# monitor proposal); the stream is not done until they are gone. A stream
# with no change removes none (the caller does, after the round).
#
# With a base snapshot (else `-`), it first answers a warm-sync round's
# guard, before it reads or writes anything: a `g` record (u32 length, then
# JSON) with the image's size, its snapshots and, where the base is one of
# them, the objects written since it (the object map's answer, as `rbd diff
# --whole-object` gives it). The guard would otherwise start an rbd process
# for each question while this one is starting anyway.
#
# With reply `checksum` (a cold export's stage), nothing read back is sent:
# once a record's write is acknowledged, the new cluster's OSDs are asked
# for the xxHash64 of each 64 KiB piece of it (on absolute offsets: a
# record's first and last pieces may be shorter), as they read it from
# their store, and a `k` record (offset, length, hash) per piece goes out,
# in order. The bytes never cross back: stackmigrate hashes the pieces it
# sent and checks the OSDs' hashes are those (src/storage/record_trail.rs).
# The stream is then the source's own records, fed by tee(2), zero pieces
# included: a piece that holds only zeros is not written (the image is
# fresh), as stackmigrate leaves it out of its trail (data_runs below).
# Reply `bytes` (a warm-sync round, whose read-back is compared with the
# export file) sends the bytes read back.
#
# argv: conf id keyring|- timeout_s pool image window_bytes drop_prefix|- base|- bytes|checksum
# (window_bytes: written but not yet sent back, at most, plus one record)
# Exit 0 only after every write and read completed and the stream ended
# with its end record; anything else exits non-zero with the reason on stderr.
import collections
import json
import os
import signal
import struct
import sys
import threading

import rados
import rbd

HEADER = b"rbd diff v1\n"


class Failed(Exception):
    pass


def read_exact(inp, n):
    buf = inp.read(n)
    if buf is None or len(buf) != n:
        raise Failed("the stream ended early (%d of %d bytes of a record)" % (len(buf or b""), n))
    return buf


# Snapshot removals started (a thread each): the image is closed only once they end.
DROPPERS = []


def stop(signum, frame):
    # Cancelled: out through the `with` blocks, so that the image is closed
    # and its watch removed (a killed client's watch stays ~30 s, and Cinder
    # cannot delete a volume whose image has one). A second signal must not
    # cut short the wait for a removal under way (the caller's SIGKILL ends it).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Failed("stopped by signal %d" % signum)


def main():
    signal.signal(signal.SIGTERM, stop)
    conf, rid, keyring, timeout, pool, image, window, drop, base, reply = sys.argv[1:11]
    window = int(window)
    checksums = {"checksum": True, "bytes": False}[reply]
    options = {
        "rbd_cache": "false",
        "client_mount_timeout": timeout,
        "rados_mon_op_timeout": timeout,
    }
    if keyring != "-":
        options["keyring"] = keyring
    # The checksum client connects beside this one (a ctypes call releases the GIL).
    sums = Checksums(conf, rid, options) if checksums else None
    cluster = rados.Rados(conffile=conf, rados_id=rid, conf=options)
    cluster.connect(timeout=int(timeout))
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            with rbd.Image(ioctx, image) as img:
                if base != "-":
                    tell(img, base, sys.stdout.buffer)
                if sums is not None:
                    sums.ready(img)
                try:
                    apply(img, sys.stdin.buffer, sys.stdout.buffer, window, drop, sums)
                    if sums is not None:
                        # Only once every piece was answered: no worker is asking.
                        sums.close()
                finally:
                    # Never close the image under a removal's thread.
                    for d in DROPPERS:
                        d.join()
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()


def tell(img, base, out):
    # Whatever happens, one g record goes out, so that the stream after it is
    # where the caller expects it; a failure to answer is said in it, and the
    # caller asks rbd instead.
    try:
        facts = {"size": img.size(), "snaps": user_snaps(img), "written": None}
        if base in facts["snaps"]:
            facts["written"] = written_since(img, base, facts["size"])
    except (rbd.Error, OSError, AttributeError) as e:
        facts = {"error": "%s: %s" % (img.get_name(), e)}
    record = json.dumps(facts).encode()
    out.write(b"g" + struct.pack("<I", len(record)) + record)
    out.flush()


def user_snaps(img):
    # User snapshots, as `rbd snap ls` lists them (not mirror or trash ones).
    user = rbd.RBD_SNAP_NAMESPACE_TYPE_USER
    return [s["name"] for s in img.list_snaps() if s.get("namespace", user) == user]


def written_since(img, base, size):
    found = []
    img.diff_iterate(0, size, base, lambda off, n, exists: found.append((off, n)), whole_object=True)
    written = []
    for off, n in sorted(found):
        if written and written[-1][0] + written[-1][1] == off:
            written[-1][1] += n
        else:
            written.append([off, n])
    return written


class Dropper(threading.Thread):
    """Removes the image's snapshots whose names start with `prefix` (librbd
    does it without the GIL, beside the writes)."""

    def __init__(self, img, prefix):
        super().__init__(daemon=True)
        self.img, self.prefix, self.error = img, prefix, None

    def run(self):
        try:
            for snap in list(self.img.list_snaps()):
                if snap["name"].startswith(self.prefix):
                    self.img.remove_snap(snap["name"])
        except (rbd.Error, OSError) as e:
            self.error = "removing snapshots %s*: %s" % (self.prefix, e)

    def finish(self):
        self.join()
        if self.error is not None:
            raise Failed(self.error)


def apply(img, inp, out, window, drop, sums):
    if read_exact(inp, len(HEADER)) != HEADER:
        raise Failed("not an rbd diff v1 stream")
    # The snapshots go once the source's changes arrive (the first record
    # after the size), not at the header: the caller writes that at once,
    # and a source side that fails before it sends anything (a lock it
    # cannot take) must leave the image as the last round left it.
    dropper = Dropper(img, drop) if drop != "-" else None

    def changes_begin():
        if dropper is not None and dropper.ident is None:
            DROPPERS.append(dropper)
            dropper.start()

    out.write(HEADER)
    cond = threading.Condition()
    # [offset, length, data read back (the pieces' hashes, checksum) or None, error]
    pending = collections.deque()
    held = [0]  # bytes in `pending`

    def on_read(entry):
        def cb(completion, data):
            with cond:
                r = completion.get_return_value()
                if r < 0 or data is None or len(data) != entry[1]:
                    entry[3] = "read back at %d: %s" % (entry[0], r)
                else:
                    entry[2] = data
                cond.notify_all()

        return cb

    def on_write(entry):
        def cb(completion):
            r = completion.get_return_value()
            if r < 0:
                with cond:
                    entry[3] = "write at %d: %d" % (entry[0], r)
                    cond.notify_all()
                return
            if sums is not None:
                sums.todo.put((entry, cond))
                return
            try:
                img.aio_read(entry[0], entry[1], on_read(entry))
            except Exception as e:  # noqa: BLE001 - reported on the main thread
                with cond:
                    entry[3] = "read back at %d: %s" % (entry[0], e)
                    cond.notify_all()

        return cb

    def drain(keep):
        # Sends finished records on, in order, until at most `keep` bytes are pending.
        while pending:
            with cond:
                head = pending[0]
                while head[2] is None and head[3] is None and held[0] > keep:
                    cond.wait()
                if head[3] is not None:
                    raise Failed(head[3])
                if head[2] is None:
                    return
                pending.popleft()
                held[0] -= head[1]
            if sums is not None:
                out.write(b"".join(b"k" + struct.pack("<QQQ", *p) for p in head[2]))
            else:
                out.write(b"w" + struct.pack("<QQ", head[0], head[1]))
                out.write(head[2])

    while True:
        tag = read_exact(inp, 1)
        if tag in (b"f", b"t"):
            raise Failed("a stream with snapshot records: the caller checks and takes snapshots itself")
        elif tag == b"s":
            out.write(b"s" + read_exact(inp, 8))
        elif tag == b"w":
            changes_begin()
            offset, length = struct.unpack("<QQ", read_exact(inp, 16))
            data = read_exact(inp, length)
            # A cold export's stage is a fresh image: its zero pieces need no write.
            for at, end in data_runs(offset, data) if sums is not None else [(0, length)]:
                entry = [offset + at, end - at, None, None]
                with cond:
                    pending.append(entry)
                    held[0] += end - at
                img.aio_write(data if end - at == length else data[at:end], offset + at, on_write(entry))
            drain(window)
        elif tag == b"z":
            # Zeros over data (a warm-sync round): written as zeros, then read
            # back like any write, and sent on as zeros or as what was read.
            if sums is not None:
                raise Failed("a zero record in a stream whose pieces are checksummed (a cold export sends none)")
            changes_begin()
            offset, length = struct.unpack("<QQ", read_exact(inp, 16))
            drain(0)
            img.write_zeroes(offset, length)
            pos = offset
            while pos < offset + length:
                n = min(4 << 20, offset + length - pos)
                data = img.read(pos, n)
                if len(data) != n:
                    raise Failed("read back at %d: %d of %d bytes" % (pos, len(data), n))
                if data == bytes(n):
                    out.write(b"z" + struct.pack("<QQ", pos, n))
                else:
                    out.write(b"w" + struct.pack("<QQ", pos, n))
                    out.write(data)
                pos += n
        elif tag == b"e":
            drain(0)
            # The end first: the round is verified by what was read back, and
            # the caller waits for the removal (this exit) only after that.
            out.write(b"e")
            out.flush()
            # No change, no removal: the caller removes them after the round
            # (here it would be a monitor proposal on its own, in the window).
            if dropper is not None and dropper.ident is not None:
                sys.stderr.write("%s: every extent written and read back; waiting for the snapshot removal\n" % img.get_name())
                sys.stderr.flush()
                dropper.finish()
            return
        else:
            raise Failed("unknown record %r in the stream" % tag)


def data_runs(offset, data):
    # The runs [at, end) of `data` (at `offset`) that are not all-zero
    # PIECE-sized pieces on absolute offsets: what stackmigrate's trail holds
    # of a record (src/storage/sparse_hash.rs, data_runs). The stream into
    # this writer is the source's own records, zero pieces included (fed by
    # tee(2), src/storage/pipe_forward.rs).
    runs, at, start, n = [], 0, None, len(data)
    while at < n:
        m = min(PIECE - (offset + at) % PIECE, n - at)
        zero = data.startswith(ZERO if m == PIECE else bytes(m), at, at + m)
        if zero and start is not None:
            runs.append((start, at))
            start = None
        elif not zero and start is None:
            start = at
        at += m
    if start is not None:
        runs.append((start, n))
    return runs


ZERO = bytes(PIECE)


if __name__ == "__main__":
    try:
        main()
    except (Failed, rados.Error, rbd.Error, OSError) as e:
        sys.stderr.write("stackmigrate readback stage: %s\n" % e)
        # The errno, as rbd exits with one (2: not found, 32: broken pipe,
        # 110: timed out); 3 for a stream that is not what it should be.
        code = getattr(e, "errno", None)
        sys.stderr.flush()
        # Not through the interpreter's exit: a checksum thread may still be
        # inside librados, which must not be torn down under it; and what is
        # still buffered for stdout goes nowhere (flushed into a closed pipe
        # at exit, it would turn this exit code into Python's 120).
        os._exit(code if isinstance(code, int) and 0 < code < 256 else 3)

# stackmigrate's warm-sync delta reader (see src/storage/delta_reader.rs).
#
# Writes what changed in an image between two snapshots as an `rbd diff v1`
# stream on stdout, as `rbd export-diff --from-snap FROM IMAGE@TO -` does,
# with one difference: every changed extent is cut into `block`-byte pieces
# on absolute offsets, and a piece that reads as zeros is sent as a `z`
# record instead of its bytes. `rbd export-diff` reports an object created
# since FROM from its start to its last write, zeros included, so a 64 KiB
# write into an empty 4 MiB object arrives as up to 4 MiB of data; here it
# arrives as 64 KiB of data and one zero record. Both streams describe the
# same image at TO.
#
# No from/to snapshot records are written: the receiver creates the
# to-snapshot itself once the round is verified.
#
# It is started while the round's snapshot is being taken: it connects to the
# cluster, then waits for a line `go` on stdin before it opens IMAGE@TO, so
# that its start is hidden behind the snapshot. Stdin closed without `go`
# (the snapshot failed) ends it, with nothing written.
#
# A line `lock` instead (a cutover whose source no server writes) makes it
# read the image itself under its exclusive lock, and take no snapshot: it
# opens IMAGE, takes the lock, and reads the changes since FROM. Held
# explicitly, the lock is not handed to anyone: another client's write fails
# (EROFS) until it is released, so the image cannot change while it is read,
# and what is read is the image at the lock. A snapshot would only pin down
# the same bytes, cost a monitor proposal (about a second) in the cutover
# window, and be removed once the copy is verified. The end record is
# written only once the read is done and the lock is still held; a lock that
# cannot be taken (another client holds it: something still uses the
# source) fails with nothing written. TO then only names the round.
#
# FROM `-` reads the whole image (a cold export: with `lock`, a detached
# volume is read under its lock instead of from a snapshot).
#
# A line `hold` reads nothing: it takes IMAGE's exclusive lock as `lock`
# does, says `locked`, and keeps it while another process (`rbd
# export-diff`) reads the image; then `check` on stdin is answered `held`
# only if the lock was held all along (see `hold`).
#
# argv: conf id keyring|- timeout_s pool image from|- to block window_bytes
# Exit 0 only after every read completed and the end record was written.
import collections
import os
import signal
import struct
import sys
import threading
import time

import rados
import rbd

HEADER = b"rbd diff v1\n"
# Reads of 1 MiB: on a delta of new objects (read whole, mostly zeros) the
# reader used 0.41-0.43 CPU-s against 0.49-0.50 with 4 MiB reads (2 and
# 0.5 MiB: the same as 1; 256 KiB: worse), as librbd's zero fill, the copy
# into Python's buffer and the zero check each pass over less memory at once.
CHUNK = 1 << 20
# The longest record sent: a longer run of changes is split (a valid stream).
RUN = 4 << 20


class Failed(Exception):
    pass


def keep_buffers():
    # Each read returns a fresh CHUNK-sized buffer. Above glibc's mmap
    # threshold every one is mapped, faulted in page by page, then unmapped:
    # on a delta of new objects (mostly zeros, read whole) that was half of
    # this process's CPU. Served from the heap, the pages are reused.
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 256 << 20)  # M_TRIM_THRESHOLD
    except (AttributeError, OSError):
        pass


def stop(signum, frame):
    # Cancelled: out through the `with` blocks, so that the image is closed
    # and a lock it holds released (a killed holder's lock stays ~30 s).
    raise Failed("stopped by signal %d" % signum)


def main():
    keep_buffers()
    signal.signal(signal.SIGTERM, stop)
    conf, rid, keyring, timeout, pool, image, snap_from, snap_to, block, window = sys.argv[1:11]
    snap_from = None if snap_from == "-" else snap_from
    options = {"client_mount_timeout": timeout, "rados_mon_op_timeout": timeout}
    if keyring != "-":
        options["keyring"] = keyring
    cluster = rados.Rados(conffile=conf, rados_id=rid, conf=options)
    cluster.connect(timeout=int(timeout))
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            line = sys.stdin.buffer.readline()
            if line == b"go\n":
                with rbd.Image(ioctx, image, snapshot=snap_to, read_only=True) as img:
                    send(img, snap_from, int(block), int(window), sys.stdout.buffer)
                    end(sys.stdout.buffer)
            elif line == b"lock\n":
                with rbd.Image(ioctx, image) as img:
                    locked(img, image, snap_from, int(block), int(window), sys.stdout.buffer)
            elif line == b"hold\n":
                with rbd.Image(ioctx, image) as img:
                    hold(img, image, sys.stdin.buffer, sys.stdout.buffer)
            else:
                raise Failed("stopped before %s@%s was taken" % (image, snap_to))
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()


class Out:
    """Coalesces pieces into `w` and `z` records, in offset order."""

    def __init__(self, out):
        self.out = out
        self.kind = None  # b"w" or b"z"
        self.start = 0
        self.pieces = []
        self.length = 0

    def put(self, kind, offset, view):
        n = len(view) if kind == b"w" else view
        if self.kind != kind or self.start + self.length != offset or (kind == b"w" and self.length + n > RUN):
            self.flush()
            self.kind, self.start = kind, offset
        if kind == b"w":
            self.pieces.append(view)
        self.length += n
        # A long run of changes is sent in records of at most RUN bytes, so
        # that memory stays flat whatever the run's length.
        if self.length >= RUN:
            self.flush()

    def flush(self):
        if self.kind is not None and self.length:
            self.out.write(self.kind + struct.pack("<QQ", self.start, self.length))
            for p in self.pieces:
                self.out.write(p)
        self.kind, self.pieces, self.length = None, [], 0


# At most this many runs of changed objects are listed one run at a time.
NARROW_RUNS = 64


def changes(img, snap_from, size):
    """What changed since FROM, as `diff_iterate` reports it over the whole
    image. That asks every object for its snapshot history (0.1 s for 8 GiB
    here). With a valid fast-diff object map, the objects that may have
    changed are known first without asking any (a superset: what `rbd diff
    --whole-object` reports), and where they form a few runs, only those are
    asked: a quiet volume's cutover lists nothing."""
    extents = []

    def add(off, n, exists):
        extents.append((off, n, exists))

    usable = img.features() & rbd.RBD_FEATURE_FAST_DIFF and not (
        img.flags() & (rbd.RBD_FLAG_FAST_DIFF_INVALID | rbd.RBD_FLAG_OBJECT_MAP_INVALID)
    )
    if usable:
        runs = []
        # In offset order (librbd's object-map diff has not always reported it so).
        objects = []
        img.diff_iterate(0, size, snap_from, lambda off, n, exists: objects.append((off, n)), whole_object=True)
        for off, n in sorted(objects):
            if runs and runs[-1][0] + runs[-1][1] == off:
                runs[-1][1] += n
            else:
                runs.append([off, n])
        if len(runs) <= NARROW_RUNS:
            for off, n in runs:
                img.diff_iterate(off, n, snap_from, add)
            return extents
    img.diff_iterate(0, size, snap_from, add)
    return extents


def send(img, snap_from, block, window, out):
    size = img.size()
    extents = changes(img, snap_from, size)
    out.write(HEADER + b"s" + struct.pack("<Q", size))
    records = Out(out)
    zeros = bytes(CHUNK)
    cond = threading.Condition()
    pending = collections.deque()  # [offset, length, data or None, error]
    held = [0]

    def on_read(entry):
        def cb(completion, data):
            with cond:
                r = completion.get_return_value()
                if r < 0 or data is None or len(data) != entry[1]:
                    entry[3] = "read at %d: %s" % (entry[0], r)
                else:
                    entry[2] = data
                cond.notify_all()

        return cb

    def emit(offset, data):
        if data == zeros[: len(data)]:
            records.put(b"z", offset, len(data))
            return
        view = memoryview(data)
        zblock = zeros[:block]
        pos, run = 0, None  # run: where the pieces of data not yet put begin
        while pos < len(data):
            n = min(block - (offset + pos) % block, len(data) - pos)
            # Most pieces of a used volume hold data: a first or last byte that
            # is not zero says so without a copy. Otherwise a sliced copy
            # compares at memcmp speed; a memoryview does not.
            if data[pos] or data[pos + n - 1] or data[pos : pos + n] != (zblock if n == block else zeros[:n]):
                if run is None:
                    run = pos
            else:
                if run is not None:
                    records.put(b"w", offset + run, view[run:pos])
                    run = None
                records.put(b"z", offset + pos, n)
            pos += n
        # Pieces of data next to each other go on as one view (one write).
        if run is not None:
            records.put(b"w", offset + run, view[run:])

    def drain(keep):
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
                if head[0] is not None:
                    held[0] -= head[1]
            if head[0] is None:
                records.put(b"z", head[4], head[1])
            else:
                emit(head[0], head[2])

    for off, n, exists in extents:
        if not exists:
            entry = [None, n, b"", None, off]
            with cond:
                pending.append(entry)
            continue
        pos = off
        while pos < off + n:
            m = min(CHUNK - pos % CHUNK, off + n - pos)
            entry = [pos, m, None, None]
            with cond:
                pending.append(entry)
                held[0] += m
            img.aio_read(pos, m, on_read(entry))
            pos += m
            drain(window)
    drain(0)
    records.flush()


def end(out):
    out.write(b"e")
    out.flush()


LOCK_TRIES = 50  # 10 s: an earlier try's reader may still be closing


def live_holder(img):
    """Who holds the image's lock and still has it open (a watch), if anyone:
    a client that writes, or may. A holder whose watch is gone (it died)
    does not count: lock_acquire breaks its lock."""
    lockers = img.list_lockers()
    if not lockers or not lockers.get("lockers"):
        return None
    watching = {w["addr"] for w in img.watchers_list()}
    for client, _cookie, addr in lockers["lockers"]:
        if addr in watching:
            return "%s at %s" % (client, addr)
    return None


def take_lock(img, image, snap_from):
    # A live holder is not asked to hand the lock over (a client that holds
    # it automatically would, and its next writes would fail, then land
    # after the copy): the cutover stops, naming it.
    for attempt in range(LOCK_TRIES):
        holder = live_holder(img)
        if holder is None:
            try:
                img.lock_acquire(rbd.RBD_LOCK_MODE_EXCLUSIVE)
                return
            except (rbd.ReadOnlyImage, rbd.ImageBusy) as e:
                holder = "a client that refuses it (%s)" % e
        if attempt + 1 == LOCK_TRIES:
            again = "cut over again" if snap_from is not None else "migrate it again (a server's volume: let it be warm-synced)"
            raise Failed(
                "cannot take %s's exclusive lock: %s holds it and has the image open, so something may still "
                "write to the source (or a client killed less than 30 s ago: its watch then expires); stop it "
                "(rbd status shows who has the image open), then %s"
                % (image, holder, again)
            )
        time.sleep(0.2)


def held_throughout(img, image):
    # Reads need no lock: make sure it was held all along (taken explicitly,
    # it is handed to no one, so owning it now means owning it throughout).
    if not img.is_exclusive_lock_owner():
        raise Failed("lost %s's exclusive lock during the read; nothing is kept, try again" % image)
    sys.stderr.write("%s read under its exclusive lock, held from before the read to its end; no snapshot taken\n" % image)


def locked(img, image, snap_from, block, window, out):
    take_lock(img, image, snap_from)
    sys.stderr.write("%s: exclusive lock taken\n" % image)
    # The image itself, read with `whole_object` off: each object's own
    # snapshot history since FROM; no write can land while the lock is held.
    send(img, snap_from, block, window, out)
    held_throughout(img, image)
    end(out)
    # Closing the image releases the lock.


def hold(img, image, inp, out):
    # A cold export's lock, held while `rbd export-diff` reads the image (the
    # rbd CLI reads with less CPU, and its source OSD serves it with less,
    # than this process's reads). `locked` once held; then, told `check` as
    # the read has ended, `held` only if it was held all along. Anything
    # else on stdin (it closed: the read failed or was stopped) releases it.
    take_lock(img, image, None)
    sys.stderr.write("%s: exclusive lock taken\n" % image)
    out.write(b"locked\n")
    out.flush()
    if inp.readline() != b"check\n":
        raise Failed("stopped while %s was read under its lock" % image)
    held_throughout(img, image)
    out.write(b"held\n")
    out.flush()
    # Closing the image releases the lock.


if __name__ == "__main__":
    try:
        main()
    except (Failed, rados.Error, rbd.Error, OSError) as e:
        sys.stderr.write("stackmigrate delta reader: %s\n" % e)
        # The errno, as rbd exits with one (2: not found, 32: broken pipe,
        # 110: timed out); 3 for a stream that is not what it should be.
        code = getattr(e, "errno", None)
        # What is still buffered for stdout goes nowhere, so that flushing it
        # at exit cannot turn this exit code into Python's 120.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        sys.exit(code if isinstance(code, int) and 0 < code < 256 else 3)

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
# argv: conf id keyring|- timeout_s pool image from to block window_bytes
# Exit 0 only after every read completed and the end record was written.
import collections
import os
import struct
import sys
import threading

import rados
import rbd

HEADER = b"rbd diff v1\n"
CHUNK = 4 << 20


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


def main():
    keep_buffers()
    conf, rid, keyring, timeout, pool, image, snap_from, snap_to, block, window = sys.argv[1:11]
    options = {"client_mount_timeout": timeout, "rados_mon_op_timeout": timeout}
    if keyring != "-":
        options["keyring"] = keyring
    cluster = rados.Rados(conffile=conf, rados_id=rid, conf=options)
    cluster.connect(timeout=int(timeout))
    try:
        ioctx = cluster.open_ioctx(pool)
        try:
            if sys.stdin.buffer.readline() != b"go\n":
                raise Failed("stopped before %s@%s was taken" % (image, snap_to))
            with rbd.Image(ioctx, image, snapshot=snap_to, read_only=True) as img:
                send(img, snap_from, int(block), int(window), sys.stdout.buffer)
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
        if self.kind != kind or self.start + self.length != offset:
            self.flush()
            self.kind, self.start = kind, offset
        if kind == b"w":
            self.pieces.append(view)
        self.length += n

    def flush(self):
        if self.kind is not None and self.length:
            self.out.write(self.kind + struct.pack("<QQ", self.start, self.length))
            for p in self.pieces:
                self.out.write(p)
        self.kind, self.pieces, self.length = None, [], 0


def send(img, snap_from, block, window, out):
    size = img.size()
    extents = []
    img.diff_iterate(0, size, snap_from, lambda off, n, exists: extents.append((off, n, exists)))
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
        pos = 0
        while pos < len(data):
            n = min(block - (offset + pos) % block, len(data) - pos)
            # A sliced copy compares at memcmp speed; a memoryview does not.
            if data[pos : pos + n] == (zblock if n == block else zeros[:n]):
                records.put(b"z", offset + pos, n)
            else:
                records.put(b"w", offset + pos, view[pos : pos + n])
            pos += n

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
    out.write(b"e")
    out.flush()


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

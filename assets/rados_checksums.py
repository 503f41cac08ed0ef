# The new cluster's checksums of a staging image's pieces, for
# `rbd_stage_readback.py` in `checksum` mode: stackmigrate runs this file
# followed by that one (src/storage/readback_stage.rs), which defines
# `Failed` and calls `main`.
#
# Each piece's xxHash64 (seed 0) is computed by the OSD that stores it, from
# what it reads from its store: librados's checksum op, through its C API
# (the Python binding has none), on a second cluster handle.
import ctypes
import os
import queue
import struct
import threading

PIECE = 64 << 10
XXHASH64 = 1  # LIBRADOS_CHECKSUM_TYPE_XXHASH64
SEED = struct.pack("<Q", 0)
WORKERS = 4


class Checksums:
    """Asks the OSDs for the pieces' hashes once their writes are acknowledged:
    WORKERS threads take (entry, cond) from `todo`; each call releases the GIL."""

    def __init__(self, conf, rid, options):
        c = ctypes
        self.c, self.lib = c, c.CDLL("librados.so.2")
        lib, vp = self.lib, c.c_void_p
        lib.rados_create.argtypes = [c.POINTER(vp), c.c_char_p]
        lib.rados_conf_read_file.argtypes = [vp, c.c_char_p]
        lib.rados_conf_set.argtypes = [vp, c.c_char_p, c.c_char_p]
        lib.rados_connect.argtypes = [vp]
        lib.rados_ioctx_create2.argtypes = [vp, c.c_int64, c.POINTER(vp)]
        lib.rados_create_read_op.restype = vp
        lib.rados_read_op_checksum.argtypes = [vp, c.c_int, c.c_char_p, c.c_size_t, c.c_uint64, c.c_size_t, c.c_size_t, c.c_char_p, c.c_size_t, c.POINTER(c.c_int)]
        lib.rados_read_op_operate.argtypes = [vp, vp, c.c_char_p, c.c_int]
        lib.rados_release_read_op.argtypes = [vp]
        lib.rados_ioctx_destroy.argtypes = [vp]
        lib.rados_shutdown.argtypes = [vp]
        self.cluster, self.io, self.error = vp(), None, None
        self.call(lib.rados_create(c.byref(self.cluster), rid.encode()), "rados_create")
        self.call(lib.rados_conf_read_file(self.cluster, conf.encode()), "reading " + conf)
        for k, v in options.items():
            self.call(lib.rados_conf_set(self.cluster, k.encode(), v.encode()), "setting " + k)
        self.connecting = threading.Thread(target=self.connect, daemon=True)
        self.connecting.start()
        self.todo = queue.Queue()

    def call(self, r, what):
        if r < 0:
            raise Failed("checksums: %s: %s" % (what, os.strerror(-r)))
        return r

    def connect(self):
        r = self.lib.rados_connect(self.cluster)
        if r < 0:
            self.error = "checksums: connecting: %s" % os.strerror(-r)

    def ready(self, img):
        self.connecting.join()
        if self.error is not None:
            raise Failed(self.error)
        self.su, self.sc = img.stripe_unit(), img.stripe_count()
        self.obj = img.stat()["obj_size"]
        if self.su % PIECE or self.obj % self.su:
            raise Failed("%s: stripe unit %d is not a multiple of %d" % (img.get_name(), self.su, PIECE))
        self.prefix = img.block_name_prefix().encode()
        self.io = self.c.c_void_p()
        self.call(self.lib.rados_ioctx_create2(self.cluster, img.data_pool_id(), self.c.byref(self.io)), "opening the data pool")
        for _ in range(WORKERS):
            threading.Thread(target=self.work, daemon=True).start()

    def work(self):
        while True:
            entry, cond = self.todo.get()
            try:
                got, err = self.ask(entry[0], entry[1]), None
            except Exception as e:  # noqa: BLE001 - reported on the main thread
                got, err = None, "checksum at %d: %s" % (entry[0], e)
            with cond:
                entry[2], entry[3] = got, err
                cond.notify_all()

    def locate(self, off):
        # An image offset's object and offset in it, as librbd stripes.
        stripe, pos = divmod(off // self.su, self.sc)
        objset, unit = divmod(stripe, self.obj // self.su)
        return objset * self.sc + pos, unit * self.su + off % self.su

    def ask(self, offset, length):
        # The pieces on absolute PIECE offsets; a run of whole pieces next to
        # each other in one object is one sub-op; one op per object.
        pieces, pos, end = [], offset, offset + length
        while pos < end:
            pieces.append((pos, min(PIECE - pos % PIECE, end - pos)))
            pos += pieces[-1][1]
        groups = []  # [object, offset in it, chunk, count]
        for p, n in pieces:
            o, at = self.locate(p)
            g = groups[-1] if groups else None
            if g and g[0] == o and g[2] == n == PIECE and g[1] + g[2] * g[3] == at:
                g[3] += 1
            else:
                groups.append([o, at, n, 1])
        hashes, i = [], 0
        while i < len(groups):
            j = i + 1
            while j < len(groups) and groups[j][0] == groups[i][0]:
                j += 1
            hashes += self.op(groups[i:j])
            i = j
        return [(p, n, h) for (p, n), h in zip(pieces, hashes)]

    def op(self, groups):
        c, lib = self.c, self.lib
        op = lib.rados_create_read_op()
        name = b"%s.%016x" % (self.prefix, groups[0][0])
        try:
            outs = []
            for _, at, chunk, count in groups:
                buf, rv = c.create_string_buffer(4 + 8 * count), c.c_int(0)
                lib.rados_read_op_checksum(op, XXHASH64, SEED, len(SEED), at, chunk * count, chunk, buf, len(buf), c.byref(rv))
                outs.append((buf, rv, count))
            self.call(lib.rados_read_op_operate(op, self.io, name, 0), name.decode())
            hashes = []
            for buf, rv, count in outs:
                self.call(rv.value, name.decode())
                if struct.unpack_from("<I", buf.raw)[0] != count:
                    raise Failed("%s: %d checksums, not %d" % (name.decode(), struct.unpack_from("<I", buf.raw)[0], count))
                hashes += struct.unpack_from("<%dQ" % count, buf.raw, 4)
            return hashes
        finally:
            lib.rados_release_read_op(op)

    def close(self):
        if self.io:
            self.lib.rados_ioctx_destroy(self.io)
        self.lib.rados_shutdown(self.cluster)

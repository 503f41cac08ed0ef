# The datapath bench's OSD checksum pass: every 64 KiB piece of an image of
# the new cluster hashed by the OSD that stores it, asked as the engine's
# checksum writer asks (`assets/rados_checksums.py`, prepended to this file:
# its Checksums class, its worker threads, one request per 4 MiB extent, as
# a dense copy's records come). No
# byte is sent back and nothing is hashed here: the least work by which a copy
# can be read back in the new cluster. Usage: python3 -c "$SUMS$THIS" CONF IMAGE
# (BENCH_SUMS_EXTENT: bytes per request, 4 MiB by default).
import os
import sys
import threading

import rados
import rbd

EXTENT = int(os.environ.get("BENCH_SUMS_EXTENT", 4 << 20))


class Failed(Exception):
    pass


def main():
    conf, image = sys.argv[1:3]
    options = {"rbd_cache": "false"}
    sums = Checksums(conf, "admin", options)  # noqa: F821 - from rados_checksums.py
    cluster = rados.Rados(conffile=conf, rados_id="admin", conf=options)
    cluster.connect()
    try:
        ioctx = cluster.open_ioctx("volumes")
        try:
            with rbd.Image(ioctx, image, read_only=True) as img:
                sums.ready(img)
                size, cond = img.size(), threading.Condition()
                entries = [[off, min(EXTENT, size - off), None, None] for off in range(0, size, EXTENT)]
                for e in entries:
                    sums.todo.put((e, cond))
                pieces = 0
                for e in entries:
                    with cond:
                        cond.wait_for(lambda: e[2] is not None or e[3] is not None)
                    if e[3] is not None:
                        raise Failed(e[3])
                    pieces += len(e[2])
                sums.close()
                print(pieces)
        finally:
            ioctx.close()
    finally:
        cluster.shutdown()


main()

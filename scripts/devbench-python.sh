#!/usr/bin/env bash
# For the 16-core kit in ../shared/devbench (copied to .devbench/, see docs/BENCHMARKS.md, issue 12):
# the engine's librbd helpers (assets/*.py) need `import rados, rbd` in /usr/bin/python3, and the
# device's python3 (Ubuntu 24.04, 3.12) has neither. This packs Debian 12's python3.11, its standard
# library and python3-rados/rbd into .devbench/pybundle.tar.xz (about 5 MB), and writes
# .devbench/run.sh, which on the device unpacks it in /tmp/pyb, binds its wrapper over /usr/bin/python3
# in a private mount namespace, and runs the full datapath bench then the 8 GiB dense one (bluestore).
# The bundle's librados comes from the kit's Ceph bundle (its wrappers set the library path).
#   bash scripts/devbench-python.sh
#   device `run`: bash .devbench/run.sh   carry [".devbench"]   timeout_s 590
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .devbench ] || { echo "no .devbench: cp -r ../shared/devbench .devbench first" >&2; exit 1; }
chmod u+w .devbench
S=/usr/lib/python3/dist-packages
for f in /usr/bin/python3.11 "$S"/rados.cpython-311-x86_64-linux-gnu.so "$S"/rbd.cpython-311-x86_64-linux-gnu.so; do
  [ -e "$f" ] || { echo "missing $f: run testbed/up.sh first (it installs python3-rbd)" >&2; exit 1; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/py/bin" "$W/py/lib" "$W/py/site"
cp /usr/bin/python3.11 "$W/py/bin/"
tar -C /usr/lib --exclude=__pycache__ --exclude='python3.11/config-3.11*' \
  $(for d in test idlelib tkinter turtledemo ensurepip lib2to3 pydoc_data; do echo "--exclude=python3.11/$d"; done) \
  -cf - python3.11 | tar -C "$W/py/lib" -xf -
cp "$S"/rados.cpython-311-x86_64-linux-gnu.so "$S"/rbd.cpython-311-x86_64-linux-gnu.so "$W/py/site/"
cat >"$W/python3" <<'PY'
#!/bin/sh
# Debian 12's python3.11 with python3-rados/rbd (unpacked in /tmp/pyb).
d=/tmp/pyb/py
PYTHONHOME=$d PYTHONPATH=$d/site exec "$d/bin/python3.11" "$@"
PY
chmod +x "$W/python3"
tar -C "$W" -cJf .devbench/pybundle.tar.xz python3 py
cat >.devbench/run.sh <<'RUN'
#!/usr/bin/env bash
# On the device: Debian's python3.11 + python3-rados/rbd over /usr/bin/python3 (private mount
# namespace), then the full datapath bench (bluestore) and the 8 GiB dense one (BENCH_RUNS=1).
O=${OUT:-/tmp/devbench-out}; mkdir -p "$O"
mkdir -p /tmp/pyb && tar -C /tmp/pyb -xJf .devbench/pybundle.tar.xz || exit 9
unshare -m --propagation private bash -c '
  mount --bind /tmp/pyb/python3 /usr/bin/python3 || exit 8
  /usr/bin/python3 -c "import sys; print(\"python3:\", sys.version)" || exit 7
  export DB_MANIFEST_DIR=$2
  DB_PASSES=bluestore DB_DEADLINE=${FULL_DEADLINE:-310} OUT=$1/full bash .devbench/drive.sh > $1/full.log 2>&1
  [ -n "$SKIP_DENSE" ] || BENCH_ONLY=dense8 BENCH_RUNS=1 DB_PASSES=bluestore DB_DEADLINE=${DENSE_DEADLINE:-230} OUT=$1/dense bash .devbench/drive.sh > $1/dense.log 2>&1
' _ "$O" "__MANIFEST__"
grep -v "^\s*$" "$O"/full/bench-*.txt | grep -v "^ *[0-9]*: \|  at \|^note:" | tail -60
tail -25 "$O"/dense/bench-*.txt 2>/dev/null
tail -n 3 "$O"/full.log "$O"/dense.log
RUN
sed -i "s|__MANIFEST__|$PWD|" .devbench/run.sh
chmod +x .devbench/run.sh
ls -la .devbench/pybundle.tar.xz .devbench/run.sh

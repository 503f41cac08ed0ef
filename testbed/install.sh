#!/usr/bin/env bash
# Installs what the testbed needs, from nothing; a no-op (~1 s) when everything is already there.
#
#   Debian: ceph-mon ceph-osd ceph-mgr ceph-common python3-rados python3-rbd (+ small tools), and
#           g++ libradospp-dev librbd-dev, with which cargo builds the compiled delta reader (build.rs)
#   venv $CACHE/venv-keystone-cinder: keystone 30.0.0, cinder 29.0.0, uWSGI, python-keystoneclient
#   venv $CACHE/venv-nova:            nova 34.0.0, keystonemiddleware, gunicorn
#
# The venvs live outside the clone (CACHE=${STACKMIGRATE_TESTBED_CACHE:-~/.cache/stackmigrate-testbed})
# and are pinned with testbed/constraints/*.txt (pip freezes that are known to work). Each venv gets a
# stamp holding the constraints file's sha256: same stamp -> skip, changed constraints -> rebuild.
# Uses the python3 on PATH (CPython 3.11: Debian's rados/rbd extension modules are cpython-311).
#
#   install.sh          install what is missing
#   install.sh --check  exit 0 if nothing is missing or stale, 1 otherwise (changes nothing)
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
CHECK=0; [ "${1:-}" = --check ] && CHECK=1

APT_PKGS=(ceph-mon ceph-osd ceph-mgr ceph-common python3-rados python3-rbd uuid-runtime curl tmux
          g++ libradospp-dev librbd-dev)
KC_REQS=(keystone==30.0.0 cinder==29.0.0 uWSGI python-keystoneclient)
NOVA_REQS=(nova==34.0.0 keystonemiddleware gunicorn)
CEPHPY=$CACHE/cephpy       # holds ONLY symlinks to Debian's rados/rbd .so (see install_cephpy)

mkdir -p "$CACHE/logs"
exec 9>"$CACHE/.install.lock"; flock 9   # two clones sharing one cache must not install at once

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

install_apt() {
  local missing=() p
  for p in "${APT_PKGS[@]}"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return 0
  [ $CHECK = 0 ] || return 1
  local t; t=$(now)
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when needed: no candidate known, or (below) the lists are too old to download from
  for p in "${missing[@]}"; do
    if ! apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then apt-get update -qq; break; fi
  done
  log "apt: installing ${missing[*]}"
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$CACHE/logs/apt.log" 2>&1; then
    log "apt install failed (stale package lists?) -> apt-get update and retry"
    apt-get update -qq
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$CACHE/logs/apt.log" 2>&1 \
      || { tail -20 "$CACHE/logs/apt.log" >&2; die "apt-get install failed"; }
  fi
  log "apt: done in $(since "$t")s"
}

# Debian's python3-rados/-rbd are built for Debian's CPython 3.11; the same cpython-311 ABI loads in
# pyenv's 3.11. A folder with only these two files goes on Cinder's PYTHONPATH; adding all of
# /usr/lib/python3/dist-packages would silently mix Debian's packages into the venv.
install_cephpy() {
  mkdir -p "$CEPHPY"
  local so
  for so in /usr/lib/python3/dist-packages/{rados,rbd}.cpython-311-*.so; do
    [ -e "$so" ] || die "missing $so (python3-rados/python3-rbd for CPython 3.11)"
    ln -sfn "$so" "$CEPHPY/"
  done
}

make_venv() { # dir constraints-file requirement...
  local dir=$1 cons=$2; shift 2
  local name want t; name=$(basename "$dir"); t=$(now)
  want="constraints-sha256 $(sha256sum <"$cons" | cut -d' ' -f1)
requirements $*
python $(python3 -c 'import platform; print(platform.python_version())')"
  if [ "$(cat "$dir/.testbed-stamp" 2>/dev/null)" = "$want" ]; then return 0; fi
  [ $CHECK = 0 ] || return 1
  log "pip: building $name ($*), log $CACHE/logs/$name.log"
  # A second try from a clean venv: a download cut short, or uWSGI's compile hit by a failed fork
  # (seen once: `OSError: [Errno 14] Bad address: '/bin/sh'` in its build thread, while apt ran beside
  # it), must not fail a whole CI run. A second failure is reported with its log's tail.
  local try
  for try in 1 2; do
    rm -rf "$dir"   # start clean: a half-built or differently pinned venv is never reused
    python3 -m venv "$dir"
    "$dir/bin/pip" install --no-input -c "$cons" "$@" >"$CACHE/logs/$name.log" 2>&1 && break
    [ $try = 1 ] || { tail -30 "$CACHE/logs/$name.log" >&2; return 1; }
    cp "$CACHE/logs/$name.log" "$CACHE/logs/$name.try1.log"
    log "pip: $name failed (log $CACHE/logs/$name.try1.log), trying once more"
  done
  echo "$want" >"$dir/.testbed-stamp"   # written last: an interrupted install is redone next time
  log "pip: $name done in $(since "$t")s"
}

if [ $CHECK = 1 ]; then
  install_apt && make_venv "$KC_VENV" "$TESTBED/constraints/keystone-cinder.txt" "${KC_REQS[@]}" \
    && make_venv "$NOVA_VENV" "$TESTBED/constraints/nova.txt" "${NOVA_REQS[@]}" && [ -e "$CEPHPY/rbd.cpython-311-x86_64-linux-gnu.so" ]
  exit
fi
t0=$(now)
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || die "python3 on PATH must be CPython 3.11 (Debian's rados/rbd modules are cpython-311)"
# the three installs are independent (network + one uWSGI compile): run them in parallel
install_apt >"$CACHE/logs/install-apt.out" 2>&1 & apt_pid=$!
make_venv "$KC_VENV" "$TESTBED/constraints/keystone-cinder.txt" "${KC_REQS[@]}" & kc_pid=$!
make_venv "$NOVA_VENV" "$TESTBED/constraints/nova.txt" "${NOVA_REQS[@]}" & nova_pid=$!
fail=0
wait $apt_pid || { cat "$CACHE/logs/install-apt.out" >&2; fail=1; }
cat "$CACHE/logs/install-apt.out" >&2
wait $kc_pid || fail=1
wait $nova_pid || fail=1
[ $fail = 0 ] || die "install failed"
install_cephpy
# cheap sanity checks: the RBD driver's imports and the two servers' entry points
PYTHONPATH=$CEPHPY "$KC_VENV/bin/python" -W ignore -c 'import rados, rbd, keystone, cinder' \
  || die "rados/rbd/keystone/cinder not importable in $KC_VENV"
[ -x "$KC_VENV/bin/uwsgi" ] && [ -x "$NOVA_VENV/bin/gunicorn" ] || die "uwsgi/gunicorn missing"
log "install ok ($(since "$t0")s)"

#!/usr/bin/env bash
# A throw-away single-node Ceph cluster (Debian's pacific 16.2) for the testbed.
#
#   ceph.sh up   <dir> <logdir> <v2port>   -> prints <dir>/ceph.conf once pool "volumes" takes writes
#   ceph.sh down <dir>                     -> SIGKILLs this cluster's daemons by PID, removes <dir>
#
# Layout: mon "a" on 127.0.0.1:<v2port> (msgr2) and <v2port+1> (msgr1), optional mgr "x", one
# OSD, cephx on, pool "volumes" (size 1, rbd-initialised). Nothing goes to /etc/ceph or
# /var/lib/ceph. Clients use <dir>/ceph.conf; its [client] section points at <dir>/ceph.client.admin.keyring
# (client.admin only), the daemons use <dir>/keyring (all keys).
# Env: CEPH_MGR=0|1, CEPH_PORT_MIN/MAX (OSD+mgr bind range),
#   CEPH_STORE=memstore|bluestore (default memstore: objects in OSD RAM, about 2x the stored bytes;
#     bluestore: data, RocksDB and WAL in one sparse file <dir>/osd/0/block.file, made by mkfs),
#   CEPH_STORE_BYTES (memstore capacity, default 8 GiB; bluestore file size, default 32 GiB).
set -euo pipefail

store=${CEPH_STORE:-memstore}
case $store in
  memstore) bytes=${CEPH_STORE_BYTES:-8589934592} ;;
  bluestore) bytes=${CEPH_STORE_BYTES:-34359738368} ;;
  *) echo "ceph.sh: CEPH_STORE must be memstore or bluestore, not '$store'" >&2; exit 2 ;;
esac
[[ $bytes =~ ^[0-9]+$ ]] || { echo "ceph.sh: CEPH_STORE_BYTES must be a number of bytes, not '$bytes'" >&2; exit 2; }
mode=${1:?usage: ceph.sh up|down <dir> ...}; dir=${2:?dir}
conf=$dir/ceph.conf
log() { printf '[ceph %(%H:%M:%S)T] [%s] %s\n' -1 "$(basename "$dir")" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# every ceph CLI call is bounded: without a mgr some commands block forever, a dead mon hangs 300 s
c() { timeout 30 ceph --conf "$conf" --connect-timeout 10 "$@"; }

our_pid() { # pidfile -> the pid, only if alive AND its cmdline names this cluster's conf
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$conf" \
    && echo "$pid"; true
}

do_down() {
  # SIGKILL: on SIGTERM memstore dumps every object to disk, and the cluster is thrown away anyway
  # (bluestore's block file goes with rm -rf, so nothing needs a clean umount either)
  local pids=() p d i
  for d in osd.0 mgr.x mon.a; do p=$(our_pid "$dir/run/$d.pid.launcher"); [ -n "$p" ] && pids+=("$p"); done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do  # a killed ceph daemon takes 1-2 s to leave /proc and free its ports
    for ((i = 0; i < 200; i++)); do [ -d "/proc/$p" ] || break; sleep 0.05; done
  done
  rm -rf "$dir"
  log "down (killed: ${pids[*]:-none})"
}

launch() { # name argv... : foreground mode (-f) in its own session; $! is the daemon itself
  local dn=$1; shift
  setsid "$@" -f --conf "$conf" >>"$logdir/$dn.stdout" 2>&1 </dev/null &
  echo $! >"$dir/run/$dn.pid.launcher"
}

wait_for() { # description command... (60 s)
  local what=$1 t0=$SECONDS; shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS - t0 < 60)) || { log "timeout waiting for $what"; return 1; }
    sleep 0.2
  done
}

do_up() {
  logdir=${3:?logdir}; local p2=${4:?v2port}; local p1=$((p2 + 1))
  [ -e "$dir" ] && do_down
  mkdir -p "$dir"/{mon,osd/0,mgr/x,run,crash} "$logdir"
  local fsid kr=$dir/keyring ckr=$dir/ceph.client.admin.keyring
  fsid=$(uuidgen)
  local store_conf
  if [ "$store" = bluestore ]; then
    # one sparse file for everything: created (ftruncate, not fallocate) by the OSD mkfs, so it costs
    # only the bytes written (freed space is not given back: no discard on a file). No separate DB/WAL
    # devices. Cache fixed at 128 MiB: with autotune its bound is osd_memory_target (4 GiB) instead.
    # Two op threads, as docs/BENCHMARKS.md's figures were measured.
    store_conf="osd objectstore = bluestore
bluestore block path = $dir/osd/\$id/block.file
bluestore block create = true
bluestore block size = $bytes
bluestore block db create = false
bluestore block wal create = false
bluestore cache size = 134217728
bluestore cache autotune = false
osd op num threads per shard = 2"
  else
    # One op thread: MemStore's omap iterator is not safe against another thread's write to the same
    # object, and every PG's snap mapper keys live in one such object. Two threads crashed an OSD in
    # the snap trimmer (SIGSEGV in MemStore::OmapIteratorImpl::value, a CI run on 2026-12-05).
    store_conf="osd objectstore = memstore
memstore device bytes = $bytes
osd op num threads per shard = 1"
  fi
  # admin socket / pid file / log file per daemon section, NOT [global]: two clusters with the same
  # daemon names would otherwise share /var/run/ceph/ceph-mon.a.asok
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = ${CEPH_PORT_MIN:-6800}
ms bind port max = ${CEPH_PORT_MAX:-6819}
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $kr
run dir = $dir/run
crash dir = $dir/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000

[client]
keyring = $ckr

[mon]
mon data = $dir/mon/\$id
admin socket = $dir/run/\$name.asok
log file = $logdir/\$name.log
pid file = $dir/run/\$name.pid
mon cluster log file = $logdir/cluster.log

[mgr]
mgr data = $dir/mgr/\$id
admin socket = $dir/run/\$name.asok
log file = $logdir/\$name.log
pid file = $dir/run/\$name.pid

[osd]
osd data = $dir/osd/\$id
admin socket = $dir/run/\$name.asok
log file = $logdir/\$name.log
pid file = $dir/run/\$name.pid
$store_conf
osd crush update on start = true
osd op num shards = 1
EOF
  # keys: client.admin in its own keyring (what clients are given), imported into the daemons' keyring
  ceph-authtool --create-keyring "$ckr" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool --create-keyring "$kr" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$kr" --import-keyring "$ckr" >/dev/null
  ceph-authtool "$kr" --gen-key -n osd.0 --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
  ceph-authtool "$kr" --gen-key -n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
  chmod 600 "$kr" "$ckr"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$p2,v1:127.0.0.1:$p1]" "$dir/monmap" >/dev/null

  ceph-mon --conf "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$kr" >"$logdir/mon.a.mkfs" 2>&1 \
    || { cat "$logdir/mon.a.mkfs" >&2; die "mon mkfs failed"; }
  launch mon.a ceph-mon -i a
  wait_for "mon" c mon stat || { tail -20 "$logdir/mon.a.log" >&2; die "mon did not come up"; }
  [ "${CEPH_MGR:-1}" = 1 ] && launch mgr.x ceph-mgr -i x

  local uuid; uuid=$(uuidgen)
  c osd new "$uuid" 0 >/dev/null
  ceph-osd --conf "$conf" -i 0 --mkfs --osd-uuid "$uuid" >"$logdir/osd.0.mkfs" 2>&1 \
    || { cat "$logdir/osd.0.mkfs" >&2; die "osd mkfs failed"; }
  launch osd.0 ceph-osd -i 0
  wait_for "osd.0 up" bash -c "timeout 10 ceph --conf '$conf' osd dump 2>/dev/null | grep -q '^osd.0 up'" \
    || { tail -30 "$logdir/osd.0.log" >&2; die "osd did not come up"; }

  c osd pool create volumes 8 8 replicated >/dev/null 2>&1
  c osd pool set volumes size 1 --yes-i-really-mean-it >/dev/null 2>&1 || true
  timeout 60 rbd --conf "$conf" pool init volumes
  # PGs active = a real object write goes through (needs no mgr, unlike 'ceph pg stat')
  wait_for "pool volumes writable" bash -c "echo ok | timeout 10 rados --conf '$conf' -p volumes put .up_probe - \
    && timeout 10 rados --conf '$conf' -p volumes rm .up_probe" || die "pool volumes not writable"
  log "ready (mgr=${CEPH_MGR:-1}, store=$store, $((bytes >> 20)) MiB)"
  echo "$conf"
}

case $mode in
  up) do_up "$@" ;;
  down) do_down ;;
  *) die "unknown mode $mode" ;;
esac

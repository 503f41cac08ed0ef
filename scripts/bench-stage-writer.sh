#!/usr/bin/env bash
# The staging writer alone, on the testbed's new cluster: one 1 GiB rbd diff
# stream (1 MiB records of random bytes) written into a fresh image by
#   import-diff  `rbd import-diff` (no verification: the floor),
#   checksum     assets/rbd_stage_readback.py, verified by the OSDs' checksums (a cold export's stage),
#   bytes        the same writer sending the bytes read back (a warm-sync round's),
#   FILE         any other writer script given by path, in its `compare` mode (WRITER_MODE=… for another);
#                an older version's for an A/B: `git show 1586132:assets/rbd_stage_readback.py > /tmp/w.py`.
# Prints wall seconds, the writer's CPU-s and the new OSDs' CPU-s for each, alternating, RUNS times.
# Usage: scripts/bench-stage-writer.sh [mode…]   (default: import-diff checksum bytes); RUNS=3;
# RECORD_KIB=1024: the stream's record size.
# Needs the testbed up (`bash testbed/up.sh up`; TB_CEPH_STORE=bluestore for the figures in BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=${STACKMIGRATE_TESTBED_ENV:-testbed/.state/env}
var() { sed -n "s/^$1=//p" "$env_file"; }
conf=$(var NEW_CEPH_CONF)
keyring=$(var NEW_CEPH_KEYRING)
pool=$(var NEW_POOL)
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(import-diff checksum bytes)
work=$(mktemp -d)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/stream" "${RECORD_KIB:-1024}" <<'EOF'
import os, struct, sys
n = int(sys.argv[2]) << 10
with open(sys.argv[1], "wb") as f:
    f.write(b"rbd diff v1\ns" + struct.pack("<Q", 1 << 30))
    block = os.urandom(n)
    for i in range((1 << 30) // n):
        f.write(b"w" + struct.pack("<QQ", i * n, n) + block)
    f.write(b"e")
EOF
osd_cpu() {
  local t=0 p
  for p in $(pgrep -f "ceph-osd.*$(dirname "$conf")"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
writer=$(cat assets/rados_checksums.py assets/rbd_stage_readback.py)
for run in $(seq "${RUNS:-3}"); do
  for mode in "${modes[@]}"; do
    image="bench-writer-$$-$run"
    rbd --conf "$conf" --id admin create --size 1G "$pool/$image"
    case $mode in
      import-diff) cmd=(rbd --conf "$conf" --id admin import-diff --no-progress "$work/stream" "$pool/$image") ;;
      checksum | bytes) cmd=(/usr/bin/python3 -c "$writer" "$conf" admin "$keyring" 15 "$pool" "$image" 33554432 - - "$mode") ;;
      *) cmd=(/usr/bin/python3 "$mode" "$conf" admin "$keyring" 15 "$pool" "$image" 33554432 - - ${WRITER_MODE:-compare}) ;;
    esac
    o0=$(osd_cpu)
    t0=$(date +%s%N)
    /usr/bin/time -o "$work/time" -f "%U %S" "${cmd[@]}" < "$work/stream" > /dev/null
    t1=$(date +%s%N)
    o1=$(osd_cpu)
    read -r user sys < "$work/time"
    tck=$(getconf CLK_TCK)
    awk -v m="$(basename "$mode")" -v r="$run" -v w="$(( (t1 - t0) / 1000000 ))" -v u="$user" -v s="$sys" -v o="$((o1 - o0))" -v h="$tck" \
      'BEGIN { printf "run %d  %-12s wall %5.2f s  writer %4.2f CPU-s  new OSDs %4.2f CPU-s  sum %4.2f\n", r, m, w / 1000, u + s, o / h, u + s + o / h }'
    rbd --conf "$conf" --id admin rm --no-progress "$pool/$image"
  done
done

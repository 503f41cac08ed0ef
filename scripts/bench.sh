#!/usr/bin/env bash
# Runs one benchmark (benches/NAME.rs) on the real testbed: starts the testbed
# if needed and leaves it as it found it. Usage: scripts/bench.sh datapath|pipeline|usage|cutover
# TB_CEPH_STORE=bluestore (and TB_CEPH_STORE_BYTES) go to testbed/up.sh: Ceph on a sparse file instead
# of RAM (memstore, the default). A testbed up with the other store is restarted with the asked-for one
# and, since it was up, left up on it.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/bench.sh datapath|pipeline|usage|cutover}
export TB_CEPH_STORE=${TB_CEPH_STORE:-memstore}
was_up=0
bash testbed/up.sh status >/dev/null 2>&1 && was_up=1
bash testbed/up.sh up >/dev/null
[ "$was_up" = 1 ] || trap 'bash testbed/up.sh down >/dev/null' EXIT
echo "bench $name: ceph store $(sed -n 's/^TB_CEPH_STORE=//p' testbed/.state/env)" >&2
cargo bench --bench "$name"

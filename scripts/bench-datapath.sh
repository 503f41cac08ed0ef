#!/usr/bin/env bash
# Data-path benchmark on the real testbed: throughput against a raw rbd pipe,
# sparse against full, and peak RSS. Starts the testbed if needed (and leaves
# it as it found it).
set -euo pipefail
cd "$(dirname "$0")/.."
was_up=0
bash testbed/up.sh status >/dev/null 2>&1 && was_up=1
bash testbed/up.sh up >/dev/null
[ "$was_up" = 1 ] || trap 'bash testbed/up.sh down >/dev/null' EXIT
cargo bench --bench datapath

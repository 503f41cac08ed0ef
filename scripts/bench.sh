#!/usr/bin/env bash
# Runs one benchmark (benches/NAME.rs) on the real testbed: starts the testbed
# if needed and leaves it as it found it. Usage: scripts/bench.sh datapath|pipeline|usage
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/bench.sh datapath|pipeline|usage}
was_up=0
bash testbed/up.sh status >/dev/null 2>&1 && was_up=1
bash testbed/up.sh up >/dev/null
[ "$was_up" = 1 ] || trap 'bash testbed/up.sh down >/dev/null' EXIT
cargo bench --bench "$name"

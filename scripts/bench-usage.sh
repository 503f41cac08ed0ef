#!/usr/bin/env bash
# Usage-archive benchmark (96 monthly queries, concurrent vs sequential) on the real testbed.
set -euo pipefail
cd "$(dirname "$0")/.."
was_up=0
bash testbed/up.sh status >/dev/null 2>&1 && was_up=1
bash testbed/up.sh up >/dev/null
[ "$was_up" = 1 ] || trap 'bash testbed/up.sh down >/dev/null' EXIT
cargo bench --bench usage

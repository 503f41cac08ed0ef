#!/usr/bin/env bash
# Every test, on a fresh machine or a warm one: installs and starts the real
# testbed (two Ceph clusters, two Keystones, two Cinders, nova-api on
# 127.0.0.1), runs fmt, clippy and the whole test suite, then stops the
# testbed by PID. KEEP_TESTBED=1 leaves it running for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"
started=$(date +%s)

bash testbed/up.sh up
if [ "${KEEP_TESTBED:-0}" != 1 ]; then
  trap 'bash testbed/up.sh down' EXIT
fi
echo "testbed up after $(( $(date +%s) - started )) s"

cargo fmt --all -- --check
# House style: a source file holds at most 400 lines.
long=$(find src tests benches -name '*.rs' -exec awk 'END { if (NR > 400) print FILENAME ": " NR " lines" }' {} \;)
[ -z "$long" ] || { printf 'over 400 lines (house style, ../shared/STYLE.md):\n%s\n' "$long" >&2; exit 1; }
cargo clippy --all-targets --locked -- -D warnings
# nextest runs each test in a process of its own. Under `cargo test` the tests
# of a binary share one process, and a test of the second-signal path
# (`kill_all_groups`) would kill its neighbours' children: one at a time there.
# The tests that pause the new cluster for seconds run alone, one at a
# time, after the rest: the tests beside them would see their cluster hang.
alone='test(a_hung_new_cluster)'
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --lib --bins --tests --locked --no-fail-fast -E "not $alone"
  cargo nextest run --test datapath --locked --no-fail-fast --test-threads 1 -E "$alone"
elif [ -n "$CI" ]; then
  echo "CI expects cargo-nextest (cargo install cargo-nextest --locked)" >&2
  exit 1
else
  cargo test --lib --bins --tests --locked --no-fail-fast -- --test-threads=1
fi
echo "all tests done in $(( $(date +%s) - started )) s"

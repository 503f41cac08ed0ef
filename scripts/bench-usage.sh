#!/usr/bin/env bash
# See scripts/bench.sh and docs/BENCHMARKS.md.
exec bash "$(dirname "$0")/bench.sh" usage

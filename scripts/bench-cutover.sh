#!/usr/bin/env bash
# Warm sync's cutover window against a cold one-pass copy of the same volume
# (benches/cutover.rs). See scripts/bench.sh and docs/BENCHMARKS.md.
exec bash "$(dirname "$0")/bench.sh" cutover

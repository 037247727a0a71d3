#!/usr/bin/env bash
# berth-registry as one node vs three behind haproxy (S3 + PostgreSQL, as deploy/cluster/):
# manifest GET by tag, requests/s. Prints a markdown table.
#
# Usage: bench/cluster-bench.sh [--no-build] [--reps N] [--wrk-seconds N]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
# Needs root (Ceph, PostgreSQL), wrk and haproxy (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
bench_berth cluster-bench wrk haproxy python3 -- "$@"

exec python3 bench/cluster_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

#!/usr/bin/env bash
# berth-registry (release build) vs CNCF Distribution 2.8.2, side by side in one run on loopback.
# Prints a markdown table: blob push (monolithic and 16 MiB chunks), pull, 8 parallel pushes,
# manifest GET by tag (wrk: req/s and p99), 1,000 tag PUTs + tags/list, peak RSS; with the ratio
# berth/distribution and the project's goals (manifest GET >= 10x, push >= 2.5x, pull >= 1.5x).
#
# Usage: bench/registry-bench.sh [--no-build] [--quick] [--stat median|best] [--json FILE] [...]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
#   --quick      64 MiB blobs, 1 repetition, 3 s wrk runs (about a minute)
#   --baseline BIN  also measure another berth-registry build (say, of the previous commit) in the
#                   same run, with a berth/baseline column: a change must not make berth slower
# Needs curl, wrk and docker-registry (scripts/install-deps.sh installs them); takes ~3-4 minutes
# and about 4 GB in a temp dir that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
bench_berth registry-bench curl wrk docker-registry python3 -- "$@"

exec python3 bench/registry_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

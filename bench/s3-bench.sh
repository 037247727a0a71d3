#!/usr/bin/env bash
# berth-registry (release build) vs CNCF Distribution 2.8.2 with blobs in S3: both on one RADOS
# Gateway that scripts/s3-server.sh starts (and stops) in a temp dir. Prints a markdown table:
# 256 MiB push (monolithic and 16 MiB chunks), pull following the redirect, manifest GET by tag.
#
# Usage: bench/s3-bench.sh [--no-build] [--quick] [--reps N] [--blob-mib N] [--wrk-seconds N]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
#   --quick      64 MiB blobs, 1 repetition, 3 s wrk runs
# Needs root (Ceph), curl, wrk and docker-registry (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
bench_berth s3-bench curl wrk docker-registry python3 -- "$@"

exec python3 bench/s3_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

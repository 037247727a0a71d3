#!/usr/bin/env bash
# berth-registry as one node vs three behind haproxy (S3 + PostgreSQL, as deploy/cluster/):
# manifest GET by tag, requests/s. Prints a markdown table.
#
# Usage: bench/cluster-bench.sh [--no-build] [--reps N] [--wrk-seconds N]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
# Needs root (Ceph, PostgreSQL), wrk and haproxy (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
args=()
for a in "$@"; do
  case "$a" in
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done
berth="${BERTH_BIN:-.build/release/berth-registry}"
if ((build)) && [[ -z "${BERTH_BIN:-}" ]]; then
  echo "cluster-bench: swift build -c release --product berth-registry" >&2
  swift build -c release --product berth-registry >&2
fi
[[ -x "$berth" ]] || { echo "cluster-bench: $berth not found (build it or pass BERTH_BIN)" >&2; exit 1; }
exec python3 bench/cluster_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

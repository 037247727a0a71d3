#!/usr/bin/env bash
# berth-registry vs CNCF Distribution 2.8.2, side by side in one run on loopback.
# Usage: bench/registry-bench.sh [--quick]    (builds berth-registry in release mode first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product berth-registry >/dev/null
exec python3 bench/registry_bench.py --berth .build/release/berth-registry "$@"

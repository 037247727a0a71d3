#!/usr/bin/env bash
# berth-auth token rates, and the cost of token verification on berth-registry's manifest GET.
# Usage: bench/auth-bench.sh      (builds release binaries first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product berth-registry >/dev/null
swift build -c release --product berth-auth >/dev/null
exec python3 bench/auth_bench.py --bin .build/release "$@"

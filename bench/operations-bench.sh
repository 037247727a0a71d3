#!/usr/bin/env bash
# What berth-registry's operations features cost (issue 13), two pairs of servers of the same
# build side by side in one run on loopback, alternating which goes first:
#   1. manifest GET by tag (wrk -c32 -t2 --latency: req/s and p99) with Prometheus metrics on an
#      http.debug listener and the access log on (stdout to a file), against both off;
#      goal: under 5% fewer requests/s (on/off >= 0.95)
#   2. push throughput (images of 20 distinct 4 MiB layers + config + manifest, 4 layers at a time)
#      with a notification endpoint whose receiver answers each POST after 1 s, against none;
#      goal: push throughput does not drop (slow/none >= 0.95, the noise allowance)
# Prints a markdown table per pair with the ratios, the per-repetition figures and checks (the
# metrics count the requests, the access log has a line per request, events reach the receiver).
#
# Usage: bench/operations-bench.sh [--no-build] [--quick] [--reps N] [--wrk-seconds N] [--images N]
#                                  [--skip metrics|notifications] [--json FILE] [...]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
#   --quick      1 repetition, 3 s wrk runs, 2 images per push repetition (about 30 s)
#   other options go to bench/operations_bench.py (--help lists them)
# Needs wrk and python3 (scripts/install-deps.sh installs them); takes about 2-3 minutes and
# about 2.5 GB in a temp dir that is removed at the end; all servers are stopped.
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

missing=()
for tool in wrk python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "operations-bench: missing ${missing[*]}; installing test dependencies" >&2
  bash scripts/install-deps.sh
fi

berth="${BERTH_BIN:-.build/release/berth-registry}"
if ((build)) && [[ -z "${BERTH_BIN:-}" ]]; then
  echo "operations-bench: swift build -c release --product berth-registry" >&2
  swift build -c release --product berth-registry >&2
fi
[[ -x "$berth" ]] || { echo "operations-bench: $berth not found (build it or pass BERTH_BIN)" >&2; exit 1; }

exec python3 bench/operations_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

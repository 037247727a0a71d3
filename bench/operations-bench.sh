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

source bench/common.sh
bench_berth operations-bench wrk python3 -- "$@"

exec python3 bench/operations_bench.py --berth "$berth" ${args[@]+"${args[@]}"}

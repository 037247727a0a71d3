#!/usr/bin/env bash
# berth-auth token rates (password grants at bcrypt cost 10, refresh-token grants), and the cost of
# token verification on berth-registry's manifest GET (token auth on vs off, same content), in one
# run on loopback with wrk.
#
# Usage: bench/auth-bench.sh [--no-build] [--seconds N] [--cost N]
#   --no-build   use existing binaries: BERTH_BIN_DIR (default .build/release) holding
#                berth-registry and berth-auth; BERTH_BIN_DIR=dir never builds
#   other options go to bench/auth_bench.py
# Needs wrk, htpasswd, openssl and python3-requests (scripts/install-deps.sh installs them); takes
# about 40 s. Everything lives in a temp dir that is removed at the end; all servers are stopped.
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
for tool in wrk htpasswd openssl python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
python3 -c 'import requests' 2>/dev/null || missing+=(python3-requests)
if ((${#missing[@]})); then
  echo "auth-bench: missing ${missing[*]}; installing test dependencies" >&2
  bash scripts/install-deps.sh
fi

bin_dir="${BERTH_BIN_DIR:-.build/release}"
if ((build)) && [[ -z "${BERTH_BIN_DIR:-}" ]]; then
  echo "auth-bench: swift build -c release --product berth-registry / berth-auth" >&2
  swift build -c release --product berth-registry >&2
  swift build -c release --product berth-auth >&2
fi
for b in berth-registry berth-auth; do
  [[ -x "$bin_dir/$b" ]] || { echo "auth-bench: $bin_dir/$b not found (build it or pass BERTH_BIN_DIR)" >&2; exit 1; }
done

exec python3 bench/auth_bench.py --bin "$bin_dir" ${args[@]+"${args[@]}"}

#!/usr/bin/env bash
# Checks every example config in this directory with berth-registry and CNCF Distribution 2.8.2:
#   1. `berth-registry verify-config FILE` must accept it;
#   2. each server must start with it and answer GET /v2/ (200, or 401 where auth is configured).
# Runs in a temp dir holding what the configs point at (certs/ from certs-example/make-certs.sh,
# auth/htpasswd), overriding the address and storage root from the environment as Distribution
# does (REGISTRY_HTTP_ADDR, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY), so that rule is checked too.
# Usage: config/check-configs.sh [CONFIG...]       (default: config/*.yml)
# Env:   BERTH_BIN_DIR (default .build/debug), DISTRIBUTION_BIN (default /usr/bin/docker-registry)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
berth="${BERTH_BIN_DIR:-$repo/.build/debug}/berth-registry"
distribution="${DISTRIBUTION_BIN:-/usr/bin/docker-registry}"
configs=("$@")
((${#configs[@]})) || configs=("$here"/*.yml)

work="$(mktemp -d /tmp/berth-config-check.XXXXXX)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
bash "$repo/certs-example/make-certs.sh" certs >/dev/null
mkdir -p auth && htpasswd -Bbn alice 'example-password' > auth/htpasswd

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start IMPL-NAME BINARY CONFIG: serves CONFIG until GET /v2/ answers; prints the status.
probe() {
  local name=$1 bin=$2 config=$3 port status="" i
  port=$(free_port)
  REGISTRY_HTTP_ADDR="127.0.0.1:$port" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$work/root-$name" \
    "$bin" serve "$config" >"$work/$name.log" 2>&1 &
  pid=$!
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert certs/ca.crt \
      --cert certs/client.crt --key certs/client.key "https://localhost:$port/v2/" 2>/dev/null) || true
    [[ "$status" == 200 || "$status" == 401 ]] && break
    status=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/v2/" 2>/dev/null) || true
    [[ "$status" == 200 || "$status" == 401 ]] && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  pid=""
  if [[ "$status" == 200 || "$status" == 401 ]]; then
    echo "  $name: served, GET /v2/ -> $status"
  else
    echo "  $name: FAILED to serve (last status '${status}'); log:"; tail -n 15 "$work/$name.log" | sed 's/^/    /'
    return 1
  fi
}

failed=0
for config in "${configs[@]}"; do
  config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
  echo "$(basename "$config")"
  if [[ -x "$berth" ]]; then
    if out=$("$berth" verify-config "$config" 2>&1); then echo "  berth verify-config: ok"
    else echo "  berth verify-config: FAILED: $out"; failed=1; fi
    # s3.yml needs a live S3 server (scripts/s3-server.sh); the tests serve it against one.
    [[ "$(basename "$config")" == s3.yml ]] || probe berth "$berth" "$config" || failed=1
  else
    echo "  berth: skipped ($berth not built)"
  fi
  [[ "$(basename "$config")" == s3.yml ]] || probe distribution "$distribution" "$config" || failed=1
done
exit $failed

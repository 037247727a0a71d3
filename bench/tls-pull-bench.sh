#!/usr/bin/env bash
# Blob pull over TLS: berth-registry (release build) vs CNCF Distribution 2.8.2, both with
# certificates from certs-example/make-certs.sh, each serving one 256 MiB blob from its own
# filesystem root. Prints the median MB/s of each over --rounds alternating curl GETs.
#
# Usage: bench/tls-pull-bench.sh [--no-build] [--rounds N] [--blob-mib N]
#   --no-build   use the existing binary (BERTH_BIN, default .build/release/berth-registry)
# Needs curl, openssl and docker-registry (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
bench_berth tls-pull-bench curl openssl docker-registry python3 -- "$@"
rounds=10 mib=256
set -- ${args[@]+"${args[@]}"}
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift ;;
    --blob-mib) mib=$2; shift ;;
    *) echo "tls-pull-bench: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

work=$(mktemp -d /tmp/berth-tls-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
bash certs-example/make-certs.sh "$work/certs" >/dev/null
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() {  # start NAME BINARY: serves TLS on a free port, prints the port
  local name=$1 binary=$2 port
  port=$(free_port)
  cat > "$work/$name.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/root-$name}}
health: {storagedriver: {enabled: false}}
http:
  addr: 127.0.0.1:$port
  tls: {certificate: $work/certs/server.crt, key: $work/certs/server.key}
YAML
  "$binary" serve "$work/$name.yml" > "$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -s --cacert "$work/certs/ca.crt" -o /dev/null "https://localhost:$port/v2/" && break
    sleep 0.1
  done
  echo "$port"
}

head -c $((mib * 1024 * 1024)) /dev/urandom > "$work/blob"
digest="sha256:$(sha256sum "$work/blob" | cut -d' ' -f1)"
berth_port=$(start berth "$berth")
dist_port=$(start distribution "$(command -v docker-registry)")
tls=(--cacert "$work/certs/ca.crt" -s)
for port in "$berth_port" "$dist_port"; do
  location=$(curl "${tls[@]}" -D - -o /dev/null -X POST "https://localhost:$port/v2/bench/tls/blobs/uploads/" \
    | tr -d '\r' | awk 'tolower($1) == "location:" {print $2}')
  [[ $location == http* ]] || location="https://localhost:$port$location"
  [[ $location == *\?* ]] && sep='&' || sep='?'
  status=$(curl "${tls[@]}" -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
    --data-binary @"$work/blob" "$location${sep}digest=$digest")
  [[ $status == 201 ]] || { echo "tls-pull-bench: push to port $port answered $status" >&2; exit 1; }
done
for ((i = 0; i < rounds; i++)); do
  order=("$berth_port berth" "$dist_port distribution")
  ((i % 2)) && order=("$dist_port distribution" "$berth_port berth")
  for entry in "${order[@]}"; do
    set -- $entry
    echo "$2 $(curl "${tls[@]}" -o /dev/null -w '%{time_total}' "https://localhost:$1/v2/bench/tls/blobs/$digest")"
  done
done | python3 -c "
import statistics, sys
times = {}
for line in sys.stdin:
    name, seconds = line.split()
    times.setdefault(name, []).append(float(seconds))
size = $mib * 1048576 / 1e6
b, d = (size / statistics.median(times[n]) for n in ('berth', 'distribution'))
print(f'| TLS pull, $mib MiB (MB/s, median of $rounds) | berth {b:,.0f} | distribution {d:,.0f} | {b / d:.2f}x |')
"

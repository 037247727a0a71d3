#!/usr/bin/env bash
# Push and pull of a 5-layer image (~500 MiB of random data): berth vs `skopeo copy`, against
# the same CNCF Distribution 2.8 (Debian docker-registry) on loopback, in one run.
#
# Usage: bench/client-bench.sh [runs]        (env: BERTH=path/to/berth, LAYER_MIB=100)
# Each measurement uses a freshly started, empty registry so neither tool finds blobs already
# there. Pull targets: skopeo -> oci: layout directory, berth -> its local store (both write
# every blob to disk; berth also verifies and fsyncs each one).
set -euo pipefail

RUNS=${1:-3}
LAYER_MIB=${LAYER_MIB:-100}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BERTH=${BERTH:-}
if [[ -z "$BERTH" ]]; then
  (cd "$HERE" && swift build -c release --product berth >/dev/null)
  BERTH="$HERE/.build/release/berth"
fi
WORK=$(mktemp -d /tmp/berth-bench.XXXXXX)
REG_PID=""
cleanup() { [[ -n "$REG_PID" ]] && kill "$REG_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

start_registry() {  # fresh, empty registry on a free port; sets PORT and REG_PID
  [[ -n "$REG_PID" ]] && { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null || true; }
  rm -rf "$WORK/registry"; mkdir -p "$WORK/registry"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$WORK/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $WORK/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$PORT}
YML
  docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && return; sleep 0.05; done
  echo "registry did not start" >&2; exit 1
}

now() { date +%s.%N; }

echo "building a 5 x ${LAYER_MIB} MiB image of random data in $WORK/layout ..." >&2
python3 - "$WORK/layout" "$LAYER_MIB" <<'PY'
import hashlib, json, os, sys
root, mib = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/blobs/sha256")
def put(data=None, path=None, mt=""):
    if path:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20): h.update(chunk)
        d = h.hexdigest(); os.rename(path, f"{root}/blobs/sha256/{d}"); size = os.path.getsize(f"{root}/blobs/sha256/{d}")
    else:
        d = hashlib.sha256(data).hexdigest(); open(f"{root}/blobs/sha256/{d}", "wb").write(data); size = len(data)
    return {"mediaType": mt, "digest": "sha256:" + d, "size": size}
layers = []
for i in range(5):
    with open(f"{root}/tmp", "wb") as f:
        for _ in range(mib): f.write(os.urandom(1 << 20))
    layers.append(put(path=f"{root}/tmp", mt="application/vnd.oci.image.layer.v1.tar"))
cfg = put(json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [l["digest"] for l in layers]}}).encode(),
          mt="application/vnd.oci.image.config.v1+json")
man = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": cfg, "layers": layers}).encode(), mt="application/vnd.oci.image.manifest.v1+json")
man["annotations"] = {"org.opencontainers.image.ref.name": "bench"}
open(f"{root}/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [man]}))
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
BYTES=$(du -sb "$WORK/layout/blobs" | cut -f1)

# berth's source store holds the image (loaded once, not timed).
tar -C "$WORK/layout" -cf "$WORK/layout.tar" .
BERTH_ROOT="$WORK/berth-src" "$BERTH" load -i "$WORK/layout.tar" >/dev/null
rm -f "$WORK/layout.tar"

SKOPEO="skopeo --insecure-policy"
declare -a S_PUSH B_PUSH S_PULL B_PULL
for run in $(seq "$RUNS"); do
  start_registry
  t0=$(now); $SKOPEO copy -q --dest-tls-verify=false "oci:$WORK/layout:bench" "docker://127.0.0.1:$PORT/bench/img:1"; t1=$(now)
  S_PUSH+=("$(echo "$t1 - $t0" | bc)")
  rm -rf "$WORK/skopeo-out"; sync
  t0=$(now); $SKOPEO copy -q --src-tls-verify=false --dest-oci-accept-uncompressed-layers \
      "docker://127.0.0.1:$PORT/bench/img:1" "oci:$WORK/skopeo-out:bench"; t1=$(now)
  S_PULL+=("$(echo "$t1 - $t0" | bc)")

  start_registry
  BERTH_ROOT="$WORK/berth-src" "$BERTH" tag localhost/layout:bench "127.0.0.1:$PORT/bench/img:1"
  t0=$(now); BERTH_ROOT="$WORK/berth-src" "$BERTH" push -q "127.0.0.1:$PORT/bench/img:1" >/dev/null; t1=$(now)
  B_PUSH+=("$(echo "$t1 - $t0" | bc)")
  BERTH_ROOT="$WORK/berth-src" "$BERTH" rmi "127.0.0.1:$PORT/bench/img:1" >/dev/null
  rm -rf "$WORK/berth-dst"; sync
  t0=$(now); BERTH_ROOT="$WORK/berth-dst" "$BERTH" pull -q "127.0.0.1:$PORT/bench/img:1" >/dev/null; t1=$(now)
  B_PULL+=("$(echo "$t1 - $t0" | bc)")
  echo "run $run: skopeo push ${S_PUSH[-1]}s pull ${S_PULL[-1]}s | berth push ${B_PUSH[-1]}s pull ${B_PULL[-1]}s" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mbps() { echo "scale=1; $BYTES / 1000000 / $1" | bc; }

sp=$(median "${S_PUSH[@]}"); bp=$(median "${B_PUSH[@]}"); sl=$(median "${S_PULL[@]}"); bl=$(median "${B_PULL[@]}")
echo
echo "image: 5 layers, $((BYTES / 1048576)) MiB random data; Distribution 2.8 on loopback; median of $RUNS runs"
printf '%-6s | %-16s | %-16s | %s\n' "op" "skopeo MB/s (s)" "berth MB/s (s)" "berth/skopeo"
printf '%-6s | %-16s | %-16s | %s\n' "------" "----------------" "----------------" "------------"
printf '%-6s | %-16s | %-16s | %sx\n' push "$(mbps "$sp") ($sp)" "$(mbps "$bp") ($bp)" "$(echo "scale=2; $sp / $bp" | bc)"
printf '%-6s | %-16s | %-16s | %sx\n' pull "$(mbps "$sl") ($sl)" "$(mbps "$bl") ($bl)" "$(echo "scale=2; $sl / $bl" | bc)"

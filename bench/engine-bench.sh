#!/usr/bin/env bash
# berth's container start-up cost vs runc and the kernel floor, side by side in one run (hyperfine).
# What users compare `berth run` with is runc/crun (docker and podman add more on top), so the
# question is how much berth adds to the unavoidable work: namespaces + chroot + exec of `true`.
# The machine is shared and noisy, so only ratios taken in the same run mean much.
#
# Rows, all running busybox `true` from the same root filesystem (bin/busybox + sh/true/echo, etc/passwd):
#   hot (image already unpacked, warm-up runs first; hyperfine -N, no shell):
#     berth run --rm --network none IMG true     overlay root, namespaces, cgroups (the main figure)
#     berth run --rm IMG true                     the same on the default bridge (veth + address)
#     runc run                                    OCI bundle prepared once (runc spec: args ["true"],
#                                                 terminal false, read-only root, own netns; deleted on exit)
#     unshare --fork --pid --mount --uts --ipc --net chroot ROOTFS /bin/true      the floor
#   first run of a freshly loaded image, unpack included (through sh; --prepare is not timed):
#     berth: prepare = fresh BERTH_ROOT + `berth load -i image.tar`; timed = berth run --rm --network none
#     umoci: prepare = fresh bundle dir; timed = umoci unpack (OCI layout from `berth save`) + runc run
#            (umoci writes terminal:true, so a template config.json with terminal:false is copied in)
#     tar:   prepare = fresh bundle dir + config; timed = tar -xzf the layer + runc run (the floor here)
# Prints a markdown table: median and mean ms, and the ratio to runc (hot rows: to `runc run`;
# first-run rows: to `umoci unpack + runc run`).
#
# Usage: bench/engine-bench.sh [--no-build] [--runs N] [--cold-runs N] [--json DIR]
#   --no-build    use the existing binary (BERTH, default .build/release/berth); BERTH=path never builds
#   --runs N      timed runs per hot row (default 50, after 5 warm-ups)
#   --cold-runs N timed runs per first-run row (default 20, after 2 warm-ups)
#   --json DIR    keep hyperfine's JSON exports (hot.json, cold.json) in DIR
# Must run as root. Needs runc, hyperfine, umoci, busybox-static, python3 (installed if missing).
# Takes about a minute. Everything lives in one temp dir that is removed at the end (containers,
# mounts, runc state too); the default bridge berth0 is torn down only if this run created it.
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 runs=50 cold_runs=20 json_dir=""
while (($#)); do
  case "$1" in
    --no-build) build=0 ;;
    --runs) runs="$2"; shift ;;
    --cold-runs) cold_runs="$2"; shift ;;
    --json) json_dir="$2"; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "engine-bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

[[ $(id -u) == 0 ]] || { echo "engine-bench: must run as root" >&2; exit 1; }

missing=()
for tool in runc hyperfine umoci python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" || missing+=(busybox-static)
if ((${#missing[@]})); then
  echo "engine-bench: missing ${missing[*]}; installing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends runc hyperfine umoci busybox-static python3 >&2 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends runc hyperfine umoci busybox-static python3 >&2; }
fi

berth="${BERTH:-.build/release/berth}"
if ((build)) && [[ -z "${BERTH:-}" ]]; then
  echo "engine-bench: swift build -c release --product berth" >&2
  swift build -c release --product berth >&2
fi
[[ -x "$berth" ]] || { echo "engine-bench: $berth not found (build it or pass BERTH=path)" >&2; exit 1; }
berth="$(realpath "$berth")"

work="$(mktemp -d /tmp/berth-engine-bench.XXXXXX)"
hot_root="$work/berth-hot"
cold_root="$work/berth-cold"
runc_state="$work/runc-state"
image=bench/busybox:latest
bridge_existed=0
ip link show berth0 >/dev/null 2>&1 && bridge_existed=1

cleanup() {
  set +e
  for root in "$hot_root" "$cold_root"; do
    [[ -d "$root" ]] || continue
    ids=$(BERTH_ROOT="$root" "$berth" ps -a -q 2>/dev/null)
    [[ -n "$ids" ]] && BERTH_ROOT="$root" "$berth" rm -f $ids >/dev/null 2>&1
  done
  if [[ -d "$runc_state" ]]; then
    for id in $(runc --root "$runc_state" list -q 2>/dev/null); do runc --root "$runc_state" delete -f "$id" >/dev/null 2>&1; done
  fi
  if ((!bridge_existed)) && ip link show berth0 >/dev/null 2>&1 && [[ -z "$(ip -o link show master berth0 2>/dev/null)" ]]; then
    BERTH_ROOT="$hot_root" "$berth" network rm berth0 >/dev/null 2>&1
  fi
  # Anything still mounted under the work dir (an interrupted run), deepest first.
  awk -v w="$work" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "engine-bench: $*" >&2; }

# ---- the image: a busybox root filesystem
rootfs="$work/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/busybox"
for l in sh true echo; do ln -s busybox "$rootfs/bin/$l"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"

log "importing $image into $hot_root"
export BERTH_ROOT="$hot_root"
"$berth" import "$rootfs" "$image" >/dev/null
"$berth" run --rm --network none "$image" true   # unpacks the layer into a snapshot once
"$berth" save "$image" -o "$work/image.tar"

# ---- runc bundle for the hot rows
bundle="$work/bundle"
mkdir -p "$bundle"
cp -a "$rootfs" "$bundle/rootfs"
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" <<'EOF'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = ["true"]
spec["process"]["terminal"] = False
spec["root"]["readonly"] = True
json.dump(spec, open(path, "w"), indent=2)
EOF
runc --root "$runc_state" run -b "$bundle" engine-bench-hot

# ---- OCI layout for umoci, a template config with terminal:false, the layer for the tar row
layout="$work/layout"
mkdir -p "$layout"
tar -xf "$work/image.tar" -C "$layout"
umoci config --image "$layout:latest" --tag bench --config.cmd true
umoci unpack --image "$layout:bench" "$work/probe" >/dev/null
python3 - "$work/probe/config.json" "$work/config.json" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["process"]["terminal"] = False
json.dump(spec, open(sys.argv[2], "w"), indent=2)
EOF
rm -rf "$work/probe"
layer="$(python3 - "$layout" <<'EOF'
import json, os, sys
layout = sys.argv[1]
def blob(d): return os.path.join(layout, "blobs", *d.split(":"))
index = json.load(open(os.path.join(layout, "index.json")))
manifest = json.load(open(blob(index["manifests"][0]["digest"])))
assert len(manifest["layers"]) == 1, manifest
print(blob(manifest["layers"][0]["digest"]))
EOF
)"
ub="$work/umoci-bundle" tb="$work/tar-bundle"
# check the first-run commands once before timing them
rm -rf "$cold_root"; BERTH_ROOT="$cold_root" "$berth" load -i "$work/image.tar" >/dev/null
BERTH_ROOT="$cold_root" "$berth" run --rm --network none "$image" true
umoci unpack --image "$layout:bench" "$ub" >/dev/null && cp "$work/config.json" "$ub/config.json" \
  && runc --root "$runc_state" run -b "$ub" engine-bench-umoci
rm -rf "$tb" && mkdir -p "$tb/rootfs" && cp "$work/config.json" "$tb/"
tar -xzf "$layer" -C "$tb/rootfs" && runc --root "$runc_state" run -b "$tb" engine-bench-tar

load_before="$(cut -d' ' -f1 /proc/loadavg)"
log "hot rows: ${runs} runs each after 5 warm-ups"
hyperfine -N --style basic --warmup 5 --runs "$runs" --export-json "$work/hot.json" \
  -n "berth run --rm --network none" "$berth run --rm --network none $image true" \
  -n "berth run --rm (bridge)" "$berth run --rm $image true" \
  -n "runc run" "runc --root $runc_state run -b $bundle engine-bench-hot" \
  -n "unshare + chroot (floor)" "unshare --fork --pid --mount --uts --ipc --net chroot $rootfs /bin/true" >&2

log "first-run rows: ${cold_runs} runs each after 2 warm-ups"
hyperfine --style basic --warmup 2 --runs "$cold_runs" --export-json "$work/cold.json" \
  -n "first run: berth load'd, run --network none (unpack incl.)" \
  --prepare "rm -rf $cold_root && BERTH_ROOT=$cold_root $berth load -i $work/image.tar >/dev/null" \
  "BERTH_ROOT=$cold_root $berth run --rm --network none $image true" \
  -n "first run: umoci unpack + runc run" \
  --prepare "rm -rf $ub" \
  "umoci unpack --image $layout:bench $ub >/dev/null && cp $work/config.json $ub/config.json && runc --root $runc_state run -b $ub engine-bench-umoci" \
  -n "first run: tar -xzf layer + runc run (floor)" \
  --prepare "rm -rf $tb && mkdir -p $tb/rootfs && cp $work/config.json $tb/" \
  "tar -xzf $layer -C $tb/rootfs && runc --root $runc_state run -b $tb engine-bench-tar" >&2
load_after="$(cut -d' ' -f1 /proc/loadavg)"

if [[ -n "$json_dir" ]]; then mkdir -p "$json_dir" && cp "$work/hot.json" "$work/cold.json" "$json_dir/"; fi

python3 - "$work/hot.json" "$work/cold.json" "$runs" "$cold_runs" "$load_before" "$load_after" \
  "$(runc --version | head -1)" "$(umoci --version)" "$(hyperfine --version)" <<'EOF'
import json, os, sys
hot, cold = (json.load(open(p))["results"] for p in sys.argv[1:3])
runs, cold_runs, before, after, runc_v, umoci_v, hf_v = sys.argv[3:10]
print(f"\n## berth run vs runc: busybox `true`, start to exit\n")
print(f"{runc_v}, {umoci_v}, {hf_v}; {os.cpu_count()} cores; load average {before} before, {after} after. "
      f"Hot rows: {runs} runs after 5 warm-ups, no shell; first-run rows: {cold_runs} runs through sh "
      "(hyperfine subtracts the shell's start-up). Ratio: hot rows to `runc run`, first-run rows to "
      "`umoci unpack + runc run`.\n")
print("| command | median ms | mean ms | ± σ ms | ratio to runc |")
print("|---|---:|---:|---:|---:|")
for results, peer_name in ((hot, "runc run"), (cold, "first run: umoci unpack + runc run")):
    peer = next(r for r in results if r["command"] == peer_name)
    for r in results:
        print(f"| {r['command']} | {r['median'] * 1000:.1f} | {r['mean'] * 1000:.1f} | {r['stddev'] * 1000:.1f} "
              f"| {r['median'] / peer['median']:.2f}x |")
EOF

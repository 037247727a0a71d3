# Sourced by the bench wrappers: what they need installed, and the berth-registry release binary
# they measure.
#
# bench_berth NAME TOOL... -- ARG...: installs the test dependencies when a TOOL is missing,
# builds berth-registry in release unless --no-build is among the ARGs or BERTH_BIN names a
# binary, and sets `berth` (the binary) and `args` (the ARGs without --no-build).
bench_berth() {
  local name=$1 build=1 tool
  shift
  local tools=() missing=()
  while (($#)) && [[ $1 != -- ]]; do tools+=("$1"); shift; done
  (($#)) && shift
  args=()
  for a in "$@"; do
    if [[ $a == --no-build ]]; then build=0; else args+=("$a"); fi
  done
  for tool in "${tools[@]}"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  if ((${#missing[@]})); then
    echo "$name: missing ${missing[*]}; installing test dependencies" >&2
    bash scripts/install-deps.sh
  fi
  berth="${BERTH_BIN:-.build/release/berth-registry}"
  if ((build)) && [[ -z "${BERTH_BIN:-}" ]]; then
    echo "$name: swift build -c release --product berth-registry" >&2
    swift build -c release --product berth-registry >&2
  fi
  [[ -x "$berth" ]] || { echo "$name: $berth not found (build it or pass BERTH_BIN)" >&2; exit 1; }
}

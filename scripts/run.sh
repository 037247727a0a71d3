#!/usr/bin/env bash
# Installs what the build needs, builds berth-registry (release) and serves the embedded default
# configuration: filesystem + SQLite under ./data, listening on 127.0.0.1:5000.
# Pass a config file to use it instead: scripts/run.sh config/minimal.yml
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --build-only
swift build -c release --product berth-registry
if [[ $# -gt 0 ]]; then
  exec .build/release/berth-registry serve "$@"
fi
exec .build/release/berth-registry serve --embedded-default

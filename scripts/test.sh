#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole suite: Swift unit and in-process
# tests, then the end-to-end tests that start the real programs on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --disable-xctest
export BERTH_BIN_DIR="$PWD/.build/debug"
python3 -m pytest tests/e2e -q -p no:cacheprovider "$@"

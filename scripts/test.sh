#!/usr/bin/env bash
# Installs what the tests need, builds, and runs the whole suite: Swift unit and in-process
# tests, then the end-to-end tests that start the real programs on loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
swift build --build-tests

# A real S3 server (Ceph's RADOS Gateway) for the S3 client's tests and a PostgreSQL server for
# the metadata store's, each in a temp dir, both always stopped.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
s3_dir=$(mktemp -d /tmp/berth-s3.XXXXXX)
rmdir "$s3_dir"
pg_dir=$(mktemp -d /tmp/berth-pg.XXXXXX)
rmdir "$pg_dir"
trap 'bash scripts/s3-server.sh stop "$s3_dir" >/dev/null 2>&1 || true
      bash scripts/postgres-server.sh stop "$pg_dir" >/dev/null 2>&1 || true' EXIT
s3_port=$(free_port)
bash scripts/s3-server.sh start "$s3_dir" "$s3_port" berth-test >/dev/null
export BERTH_TEST_S3_ENV="$s3_dir/env"
pg_port=$(free_port)
bash scripts/postgres-server.sh start "$pg_dir" "$pg_port" >/dev/null
export BERTH_TEST_POSTGRES_ENV="$pg_dir/env"

swift test --skip-build --disable-xctest
export BERTH_BIN_DIR="$PWD/.build/debug"
python3 -m pytest tests/e2e -q -p no:cacheprovider "$@"
# The protocol, conformance, skopeo and fault suites again with blobs in S3 and metadata in
# PostgreSQL: the scale-out shape must behave exactly as the embedded one.
E2E_BACKEND=s3-postgres python3 -m pytest -q -p no:cacheprovider "$@" \
  tests/e2e/test_registry_protocol.py tests/e2e/test_conformance.py tests/e2e/test_skopeo.py \
  tests/e2e/test_registry_faults.py tests/e2e/test_faults.py tests/e2e/test_registry_push_tags.py

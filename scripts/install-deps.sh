#!/usr/bin/env bash
# Installs the system packages Berth builds against and its tests drive.
# Idempotent: skips apt when everything is already present.
set -euo pipefail

# Usage: install-deps.sh [--build-only]
#   --build-only: just what `swift build` needs (used by scripts/run.sh).

BUILD_PACKAGES=(
  libsqlite3-dev      # metadata store (system SQLite, WAL)
  libssl-dev          # OpenSSL's SHA-256/512 contexts: upload digests whose state can be saved
  libarchive-dev      # layer unpacking for the client/engine
  pkg-config
)

TEST_PACKAGES=(
  openssl             # certs-example, TLS tests
  skopeo              # end-to-end client
  docker-registry     # CNCF Distribution 2.8.2, peer for interop and benchmarks
  busybox-static      # test images are built from it (no internet)
  apache2-utils       # htpasswd for test fixtures
  python3-pytest python3-requests python3-yaml python3-cryptography  # token service and certificates in client e2e tests
  bc                  # bench/client-bench.sh arithmetic
  iproute2 iptables   # berth run: bridge networks, veth pairs, NAT and published ports
  runc hyperfine      # bench/engine-bench.sh: the peer runtime and the timer
  curl jq wrk
  strace              # tests/e2e/test_registry_sendfile.py: sees the sendfile calls of blob GETs
  prometheus          # scrapes berth-registry's debug listener in the operations tests
  # scripts/s3-server.sh: a real S3 server (single-node Ceph + RADOS Gateway; no ceph-mgr) and
  # botocore for Debian's python3 to sign the SigV4 requests that check it
  ceph-mon ceph-osd radosgw ceph-common python3-botocore
  postgresql          # scripts/postgres-server.sh: the PostgreSQL metadata store's tests
  haproxy             # tests/e2e/test_cluster.py: round robin in front of several berth-registry nodes
)

PACKAGES=("${BUILD_PACKAGES[@]}")
if [[ "${1:-}" != "--build-only" ]]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's docker-registry package starts a service on :5000; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true
# Debian's prometheus package may do the same on :9090 where systemd runs; the tests start their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  systemctl stop prometheus || true
fi

"""docs/operations.md end to end: a real Prometheus scraping berth-registry's debug listener, the
health checks (storage driver on a read-only root, http against berth-auth, file, tcp), the
access log in text and JSON, no secrets in any log of a token-auth run, config validation,
berth-auth's grant metrics and the GC metrics.

Helpers of this module (waiting is polling.wait_until, shared with the other modules):
    OpsRegistry                     berth-registry with a debug listener; ready once /v2/ answers
                                    200, 401 or 503 (a failing health check answers 503) and the
                                    debug listener accepts connections
    PlainBerthAuth                  berth-auth without TLS (plain-HTTP readiness probe)
    Prometheus                      /usr/bin/prometheus as a ServerProcess
    ProbeTarget, TcpListener        servers the test holds, counting the probes they receive
"""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import re
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml

from certs import make_certs
from images import OCI_MANIFEST, make_busybox_oci_layout, sha256_digest
from polling import wait_until
from programs import BERTH_AUTH, BERTH_REGISTRY, BerthAuth, ServerProcess, free_port, is_executable
from registry_http import basic_auth, image_manifest, push_blob, raw
from registry_process import RegistryProcess, deep_merge, write_htpasswd
from skopeo_support import skopeo

PROMETHEUS = Path("/usr/bin/prometheus")

pytestmark = pytest.mark.skipif(not (is_executable(BERTH_REGISTRY) and is_executable(BERTH_AUTH)),
                                reason=f"berth-registry/berth-auth not built in {BERTH_REGISTRY.parent}")

HANDLERS = {"base", "blob", "blob_upload", "blob_upload_chunk", "manifest", "tags", "catalog", "referrers"}
ACCESS_FIELDS = {"remote_addr", "user", "method", "uri", "status", "bytes", "user_agent", "duration", "request_id"}
CLF_TIME = r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"


# ----------------------------------------------------------------------------- helpers

class Port:
    """Something registry_http.raw can send to: only .port."""

    def __init__(self, port):
        self.port = port


def get(port: int, path: str, method: str = "GET", headers=None):
    return raw(Port(port), method, path, headers=headers, timeout=10)


def json_or_text(body: bytes):
    try:
        return json.loads(body)
    except ValueError:
        return body.decode(errors="replace")


def error_codes(reply) -> list:
    doc = json_or_text(reply.body)
    assert isinstance(doc, dict) and isinstance(doc.get("errors"), list) and doc["errors"], reply
    return [e.get("code") for e in doc["errors"]]


class OpsRegistry(RegistryProcess):
    """berth-registry; with debug=True a debug listener on a free port (prometheus as asked)."""

    def __init__(self, workdir, *, debug=True, prometheus=False, debug_port=None, extra_config=None, **kwargs):
        extra = {}
        self.debug_port = None
        if debug:
            self.debug_port = debug_port or free_port()
            extra = {"http": {"debug": {"addr": f"127.0.0.1:{self.debug_port}",
                                        "prometheus": {"enabled": bool(prometheus), "path": "/metrics"}}}}
        deep_merge(extra, extra_config or {})
        super().__init__(workdir, "berth", extra_config=extra, **kwargs)

    def probe(self) -> bool:
        self._last_status = self.status(self.ready_path)
        if self._last_status not in (200, 401, 503):
            return False
        if self.debug_port:
            with socket.create_connection(("127.0.0.1", self.debug_port), timeout=2):
                pass
        return True

    def health(self):
        r = get(self.debug_port, "/debug/health")
        return r.status, json_or_text(r.body)

    def api(self, path="/v2/", method="GET", headers=None):
        return raw(self, method, path, headers=headers, timeout=10)


def wait_healthy(reg, timeout=15):
    return wait_until(lambda: reg.health() == (200, {}), timeout, "/debug/health -> 200 {}")


def wait_failing(reg, key, timeout=15):
    """Waits until /debug/health is 503 with a JSON object naming `key`; returns that object."""
    def check():
        status, body = reg.health()
        return body if status == 503 and isinstance(body, dict) and key in body else None
    return wait_until(check, timeout, f"/debug/health -> 503 naming {key!r}")


class PlainBerthAuth(BerthAuth):
    """berth-auth serving plain HTTP (no server.tls): ready once the JWKS answers 200."""

    def probe(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/.well-known/jwks.json")
            return conn.getresponse().status == 200
        finally:
            conn.close()


class Prometheus(ServerProcess):
    name = "prometheus"

    def __init__(self, workdir, target: str):
        super().__init__(workdir, log_name="prometheus.log")
        self.target = target
        self.config_path = self.workdir / "prometheus.yml"

    def prepare(self):
        self.config_path.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "berth-registry", "scrape_interval": "1s", "scrape_timeout": "1s",
                                "metrics_path": "/metrics", "static_configs": [{"targets": [self.target]}]}]}))

    def argv(self):
        return [str(PROMETHEUS), f"--config.file={self.config_path}", f"--web.listen-address=127.0.0.1:{self.port}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}"]

    def probe(self) -> bool:
        return get(self.port, "/-/ready").status == 200

    def query(self, promql: str) -> list:
        r = requests.get(f"http://127.0.0.1:{self.port}/api/v1/query", params={"query": promql}, timeout=5)
        doc = r.json()
        assert r.status_code == 200 and doc["status"] == "success", (r.status_code, doc)
        return doc["data"]["result"]

    def scalar(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None


class ProbeTarget:
    """An HTTP server the test holds: answers every request with `status`, records
    (method, headers, status served)."""

    def __init__(self):
        self.status = 200
        self.seen: list = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                with target.lock:
                    status = target.status
                    target.seen.append((self.command, dict(self.headers), status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/healthz"

    def set_status(self, status: int):
        with self.lock:
            self.status = status

    def served(self, status=None) -> int:
        with self.lock:
            return sum(1 for s in self.seen if status is None or s[2] == status)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TcpListener:
    """A listening socket the test holds, accepting (and closing) every connection, counting them."""

    def __init__(self, port: int = 0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.closed = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self):
        if not self.closed:
            self.closed = True
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.thread.join(timeout=5)


@pytest.fixture
def procs(request):
    """procs(server) starts a ServerProcess and stops it at teardown, even when the test fails
    (printing its log tail then); procs.cleanup(fn) runs fn at teardown too."""
    started, cleanups = [], []

    def add(server):
        started.append(server)
        return server.start()

    add.cleanup = cleanups.append
    yield add
    failed = any(getattr(getattr(request.node, f"rep_{w}", None), "failed", False) for w in ("setup", "call"))
    for fn in reversed(cleanups):
        with contextlib.suppress(Exception):
            fn()
    for server in reversed(started):
        if failed:
            print(f"\n{server.name}: {server.log_tail(80)}")
        server.close()


# ----------------------------------------------------------------------------- metrics

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str):
    """(types {family: type}, samples [(name, {label: value}, float)]) of Prometheus' text format."""
    types, samples = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def metric_sum(samples, name, **labels) -> float:
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items()))


def push_small_image(reg, repo, tag):
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(4096)
    cdigest, ldigest = push_blob(reg, repo, config), push_blob(reg, repo, layer)
    manifest = image_manifest(cdigest, len(config),
                              [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ldigest,
                                "size": len(layer)}])
    r = raw(reg, "PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r
    return sha256_digest(manifest), ldigest, layer


def test_prometheus_scrapes_request_metrics(tmp_path, procs):
    if not is_executable(PROMETHEUS):
        pytest.skip(f"{PROMETHEUS} not installed")
    reg = procs(OpsRegistry(tmp_path / "registry", prometheus=True))
    prom = procs(Prometheus(tmp_path / "prometheus", f"127.0.0.1:{reg.debug_port}"))

    repo = "opsmetricsns/zq7app"
    _, ldigest, layer = push_small_image(reg, repo, "1")
    for _ in range(5):
        r = raw(reg, "GET", f"/v2/{repo}/manifests/1", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200, r
    for _ in range(3):
        r = raw(reg, "GET", f"/v2/{repo}/blobs/{ldigest}")
        assert r.status == 200 and r.body == layer, r

    manifest_q = 'sum(registry_http_requests_total{handler="manifest",method="get",code="200"})'
    blob_q = 'sum(registry_http_requests_total{handler="blob",method="get",code="200"})'
    try:
        wait_until(lambda: (prom.scalar(manifest_q) or 0) >= 5 and (prom.scalar(blob_q) or 0) >= 3, 30,
                   "Prometheus to report >= 5 manifest GETs and >= 3 blob GETs")
    except AssertionError as e:
        targets = requests.get(f"http://127.0.0.1:{prom.port}/api/v1/targets", timeout=5).text
        raise AssertionError(f"{e}\nPrometheus targets: {targets[:1500]}") from None
    wait_until(lambda: (prom.scalar('sum(registry_http_request_duration_seconds_count'
                                    '{handler="manifest",method="get"})') or 0) >= 5, 15,
               "Prometheus to see the request-duration histogram's count for manifest GETs")

    r = get(reg.debug_port, "/metrics")
    assert r.status == 200, r
    text = r.body.decode()
    types, samples = parse_metrics(text)
    assert metric_sum(samples, "registry_http_requests_total", handler="manifest", method="get", code="200") == 5, text
    assert metric_sum(samples, "registry_http_requests_total", handler="blob", method="get", code="200") == 3, text
    assert metric_sum(samples, "registry_http_requests_total", handler="manifest", method="put", code="201") == 1, text
    assert types.get("registry_http_requests_total") == "counter", types

    # The handler label is the route; no label value ever holds the repository name.
    assert "opsmetricsns" not in text and "zq7app" not in text, \
        [line for line in text.splitlines() if "zq7app" in line or "opsmetricsns" in line]
    for name, labels, _ in samples:
        for value in labels.values():
            assert "opsmetricsns" not in value and "zq7app" not in value, (name, labels)
        if name.startswith("registry_http_") and "handler" in labels:
            assert labels["handler"] in HANDLERS, (name, labels)

    # registry_http_request_duration_seconds is a histogram with buckets per method and handler.
    assert types.get("registry_http_request_duration_seconds") == "histogram", types
    buckets = [(l, v) for n, l, v in samples if n == "registry_http_request_duration_seconds_bucket"
               and l.get("handler") == "manifest" and l.get("method") == "get"]
    assert buckets and all("le" in l for l, _ in buckets), buckets
    assert [v for l, v in buckets if l["le"] == "+Inf"] == [5], buckets
    assert metric_sum(samples, "registry_http_request_duration_seconds_count", handler="manifest", method="get") == 5
    for family, kind in (("registry_http_request_size_bytes", "histogram"),
                         ("registry_http_response_size_bytes", "histogram"),
                         ("registry_http_in_flight_requests", "gauge")):
        assert types.get(family) == kind, (family, types.get(family))


# ----------------------------------------------------------------------------- health

def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


@contextlib.contextmanager
def read_only_root(root: Path):
    """Makes `root` unwritable even for root: a read-only bind mount of itself; where mount is not
    permitted, <root>/berth/health is replaced by a regular file. Always undone."""
    root = root.resolve()
    health_dir = root / "berth" / "health"
    mode = "mount"
    try:
        subprocess.run(["mount", "--bind", str(root), str(root)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        mode = "file"
    try:
        if mode == "mount":
            try:
                subprocess.run(["mount", "-o", "remount,ro,bind", str(root)], check=True, capture_output=True)
            except subprocess.CalledProcessError:
                subprocess.run(["umount", str(root)], check=True, capture_output=True)
                mode = "file"
        if mode == "file":
            if health_dir.is_dir():
                subprocess.run(["rm", "-rf", str(health_dir)], check=True)
            health_dir.parent.mkdir(parents=True, exist_ok=True)
            health_dir.write_text("not a directory\n")
        yield mode
    finally:
        if mode == "mount":
            if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", str(root)], check=True, capture_output=True)
            assert not _mounted(root), f"{root} still mounted"
        elif health_dir.is_file():
            health_dir.unlink()


def test_storagedriver_check_fails_on_a_read_only_root_and_recovers(tmp_path, procs):
    reg = procs(OpsRegistry(tmp_path / "registry", prometheus=True, extra_config={
        "health": {"storagedriver": {"enabled": True, "interval": "200ms", "threshold": 1}}}))
    wait_healthy(reg)
    assert reg.api().status == 200
    push_small_image(reg, "hc/app", "1")
    docker_dir = reg.root_dir / "docker"
    if docker_dir.exists():
        assert not [p for p in docker_dir.rglob("*") if "health" in p.name], "probe files under docker/registry/v2"

    with read_only_root(reg.root_dir) as mode:
        body = wait_failing(reg, "storagedriver_filesystem")
        assert isinstance(body["storagedriver_filesystem"], str) and body["storagedriver_filesystem"], (mode, body)
        for path in ("/v2/", "/v2/hc/app/manifests/1", "/v2/_catalog"):
            r = reg.api(path)
            assert r.status == 503 and "UNAVAILABLE" in error_codes(r), (mode, path, r)
        # The debug listener itself keeps answering.
        assert get(reg.debug_port, "/metrics").status == 200

    wait_healthy(reg)
    wait_until(lambda: reg.api().status == 200, 10, "/v2/ -> 200 after the root is writable again")
    assert reg.api("/v2/hc/app/manifests/1", headers={"Accept": OCI_MANIFEST}).status == 200


AUTH_CONFIG = """
server:
  addr: 127.0.0.1:{port}
{tls}
token:
  issuer: berth-auth
  service: berth-registry
  expiration: 300
  certificate: certs/token.crt
  key: certs/token.key
users:
  htpasswd: users.htpasswd
acl:
  - match: {{account: "/.+/", name: "${{account}}/*"}}
    actions: [pull, push, delete]
"""


def test_http_check_follows_berth_auth_and_waits_for_its_threshold(tmp_path, procs):
    auth_dir = tmp_path / "auth"
    certs = make_certs(auth_dir / "certs")
    write_htpasswd(auth_dir / "users.htpasswd", {"alice": "alice-pw"})
    auth_port = free_port()
    auth = procs(PlainBerthAuth(auth_dir, AUTH_CONFIG.format(port=auth_port, tls=""), port=auth_port, ca_cert=certs.ca))
    target = ProbeTarget()
    procs.cleanup(target.close)
    jwks = f"http://127.0.0.1:{auth_port}/.well-known/jwks.json"
    reg = procs(OpsRegistry(tmp_path / "registry", extra_config={"health": {"http": [
        {"uri": jwks, "interval": "200ms", "threshold": 3, "timeout": "1s"},
        {"uri": target.url, "interval": "200ms", "threshold": 3, "timeout": "1s", "statuscode": 200,
         "headers": {"X-Probe": ["lb"]}}]}}))

    wait_healthy(reg)
    # Healthy for longer than the threshold: both checks (same interval) have been probed >= 4 times.
    wait_until(lambda: target.served() >= 4, 10, "the http checks to probe 4 times")
    assert reg.health() == (200, {}), f"berth-auth's JWKS check fails while berth-auth runs: {reg.health()}"
    assert reg.api().status == 200
    methods = {m for m, _, _ in target.seen}
    assert methods == {"HEAD"}, methods
    assert all(h.get("X-Probe") == "lb" for _, h, _ in target.seen), target.seen[:3]

    # berth-auth goes away: the check of its URI fails, the other one does not.
    auth.stop()
    body = wait_failing(reg, jwks)
    assert target.url not in body, body
    r = reg.api()
    assert r.status == 503 and "UNAVAILABLE" in error_codes(r), r
    auth.restart()
    wait_healthy(reg)
    assert reg.api().status == 200

    # The threshold: failing is only reported once at least 3 probes in a row were answered 500.
    target.set_status(500)
    observations = []

    def failing_after_threshold():
        before = target.served(500)
        status, body = reg.health()
        after = target.served(500)
        observations.append((status, before, after))
        if status == 503 and isinstance(body, dict) and target.url in body:
            assert after >= 3, f"failed after {after} failed probes (threshold 3): {observations}"
            return True
        assert status == 200, (status, body)
        return False

    wait_until(failing_after_threshold, 15, f"{target.url} to fail after 3 probes answered 500", interval=0.02)
    # Probes of one check run one after another: healthy once 2 failures had been answered means
    # at least one failure was counted without failing the check (threshold > 1).
    assert any(status == 200 and before >= 2 for status, before, _ in observations), \
        f"never seen healthy after the first failed probes: {observations}"
    target.set_status(200)
    wait_healthy(reg)


def test_file_check_is_a_maintenance_switch(tmp_path, procs):
    switch = tmp_path / "maintenance"
    reg = procs(OpsRegistry(tmp_path / "registry", extra_config={
        "health": {"file": [{"file": str(switch), "interval": "200ms"}]}}))
    wait_healthy(reg)
    assert reg.api().status == 200
    switch.write_text("down for maintenance\n")
    body = wait_failing(reg, str(switch))
    assert list(body) == [str(switch)], body
    r = reg.api()
    assert r.status == 503 and "UNAVAILABLE" in error_codes(r), r
    switch.unlink()
    wait_healthy(reg)
    assert reg.api().status == 200


def test_tcp_check_fails_on_a_closed_port_and_passes_on_an_open_one(tmp_path, procs):
    open_listener = TcpListener()
    procs.cleanup(open_listener.close)
    closed_port = free_port()
    closed, opened = f"127.0.0.1:{closed_port}", f"127.0.0.1:{open_listener.port}"
    check = {"interval": "200ms", "threshold": 2, "timeout": "1s"}
    reg = procs(OpsRegistry(tmp_path / "registry", extra_config={
        "health": {"tcp": [{"addr": closed, **check}, {"addr": opened, **check}]}}))

    body = wait_failing(reg, closed)
    assert opened not in body, body
    assert open_listener.accepted >= 1, "the open listener was never probed"
    r = reg.api()
    assert r.status == 503 and "UNAVAILABLE" in error_codes(r), r

    late = TcpListener(closed_port)   # the closed port opens: the check passes again
    procs.cleanup(late.close)
    wait_healthy(reg)
    assert reg.api().status == 200
    assert late.accepted >= 1

    open_listener.close()             # and the other one closes
    body = wait_failing(reg, opened)
    assert closed not in body, body


# ----------------------------------------------------------------------------- access log

def lines_with(reg, needle):
    return [line for line in reg.log_since_start().splitlines() if needle in line]


def test_access_log_text_is_combined_log_format(tmp_path, procs):
    password = "text-log-pw-8c1e"
    reg = procs(OpsRegistry(tmp_path / "registry", debug=False, htpasswd={"alice": password}))
    auth = basic_auth("alice", password)
    ok = reg.api(headers={**auth, "User-Agent": "ops-e2e/text-auth", "Referer": "http://ref.example/x"})
    assert ok.status == 200, ok
    anon = reg.api(headers={"User-Agent": "ops-e2e/text-anon"})
    assert anon.status == 401, anon
    missing = reg.api("/v2/nope/app/manifests/x", headers={**auth, "User-Agent": "ops-e2e/text-404"})
    assert missing.status == 404, missing

    for ua in ("ops-e2e/text-auth", "ops-e2e/text-anon", "ops-e2e/text-404"):
        wait_until(lambda: lines_with(reg, ua), 10, f"an access line for {ua}")
    def prefix(user, path, status, ua):
        return (r"^\S+ - " + re.escape(user) + " " + CLF_TIME + r' "GET ' + re.escape(path) + r' HTTP/1\.1" '
                + str(status) + r' (\d+) "([^"]*)" "' + re.escape(ua) + '"')
    suffix = r' (\d+(?:\.\d+)?) (\S+)$'
    cases = [("ops-e2e/text-auth", "alice", "/v2/", 200, ok), ("ops-e2e/text-anon", "-", "/v2/", 401, anon),
             ("ops-e2e/text-404", "alice", "/v2/nope/app/manifests/x", 404, missing)]
    for ua, user, path, status, reply in cases:
        lines = lines_with(reg, ua)
        assert len(lines) == 1, (ua, lines)
        line = lines[0]
        m = re.match(prefix(user, path, status, ua), line)
        assert m, f"not the combined log format with user {user!r} and status {status}: {line!r}"
        assert int(m.group(1)) == len(reply.body), (line, len(reply.body))
        assert re.search(suffix, line), f"no duration and request id after the user agent: {line!r}"
        assert line.startswith("127.0.0.1 - "), f"the remote host field is not the bare address: {line!r}"
    assert re.match(r'.*"http://ref\.example/x" "ops-e2e/text-auth"', lines_with(reg, "ops-e2e/text-auth")[0])
    log = reg.log_text()
    for secret in (password, auth["Authorization"].split()[1], "Authorization"):
        assert secret not in log, secret


def test_access_log_json_one_object_per_request(tmp_path, procs):
    password = "json-log-pw-51aa"
    reg = procs(OpsRegistry(tmp_path / "registry", debug=False, htpasswd={"alice": password},
                            extra_config={"log": {"formatter": "json"}}))
    auth = basic_auth("alice", password)
    got = reg.api(headers={**auth, "User-Agent": "ops-e2e/json-get"})
    assert got.status == 200, got
    head = reg.api("/v2/nope/app/manifests/x", "HEAD", headers={**auth, "User-Agent": "ops-e2e/json-head"})
    assert head.status == 404, head
    anon = reg.api(headers={"User-Agent": "ops-e2e/json-anon"})
    assert anon.status == 401, anon

    def access_objects():
        objects = []
        for line in reg.log_since_start().splitlines():
            if line.strip():
                obj = json.loads(line)   # every line of a JSON-formatted log is one JSON object
                assert isinstance(obj, dict), line
                if obj.get("msg") == "access":
                    objects.append(obj)
        return objects

    wait_until(lambda: {"ops-e2e/json-get", "ops-e2e/json-head", "ops-e2e/json-anon"}
               <= {o.get("user_agent") for o in access_objects()}, 10, "JSON access lines for the three requests")
    objects = access_objects()
    cases = [("ops-e2e/json-get", "GET", "/v2/", 200, "alice", got),
             ("ops-e2e/json-head", "HEAD", "/v2/nope/app/manifests/x", 404, "alice", head),
             ("ops-e2e/json-anon", "GET", "/v2/", 401, None, anon)]
    for ua, method, uri, status, user, reply in cases:
        mine = [o for o in objects if o.get("user_agent") == ua]
        assert len(mine) == 1, (ua, mine)
        obj = mine[0]
        assert ACCESS_FIELDS <= set(obj), (ACCESS_FIELDS - set(obj), obj)
        assert obj["method"] == method and obj["uri"] == uri and str(obj["status"]) == str(status), obj
        assert str(obj["remote_addr"]).startswith("127.0.0.1"), obj
        assert obj["request_id"], obj
        if user:
            assert obj["user"] == user, obj
        else:
            assert obj["user"] in ("", "-", None), obj
        if method == "GET":
            assert str(obj["bytes"]) == str(len(reply.body)), (obj, len(reply.body))
    log = reg.log_text()
    for secret in (password, auth["Authorization"].split()[1], "Authorization"):
        assert secret not in log, secret


def test_access_log_disabled_writes_no_access_lines(tmp_path, procs):
    reg = procs(OpsRegistry(tmp_path / "registry", debug=False, extra_config={"log": {"accesslog": {"disabled": True}}}))
    for i in range(3):
        assert reg.api(headers={"User-Agent": f"ops-e2e/quiet-{i}"}).status == 200
    assert reg.api("/v2/quiet/app/manifests/x", headers={"User-Agent": "ops-e2e/quiet-404"}).status == 404
    assert reg.stop() == 0   # after a clean exit everything the server wrote is in the log
    log = reg.log_since_start()
    assert "ops-e2e/quiet" not in log, log[-2000:]
    assert not re.search(r'"(GET|HEAD) /v2/\S* HTTP/1\.1"', log), log[-2000:]
    assert not [line for line in log.splitlines() if '"access"' in line], log[-2000:]


# ----------------------------------------------------------------------------- secrets

def test_token_auth_run_logs_no_secrets(tmp_path, procs):
    password, wrong = "Op5-e2e-Pa55word-1f9b", "Wr0ng-e2e-guess-77c2"
    auth_dir = tmp_path / "auth"
    certs = make_certs(auth_dir / "certs")
    write_htpasswd(auth_dir / "users.htpasswd", {"alice": password})
    auth_port = free_port()
    tls = "  tls: {certificate: certs/server.crt, key: certs/server.key}"
    auth = procs(BerthAuth(auth_dir, AUTH_CONFIG.format(port=auth_port, tls=tls), port=auth_port, ca_cert=certs.ca))
    realm = f"https://127.0.0.1:{auth_port}/token"
    reg = procs(OpsRegistry(tmp_path / "registry", prometheus=True, tls=(certs.server_cert, certs.server_key),
                            extra_config={"auth": {"token": {"realm": realm, "service": "berth-registry",
                                                             "issuer": "berth-auth",
                                                             "rootcertbundle": str(certs.token_cert)}}}))
    ca = str(certs.ca)
    host = f"127.0.0.1:{reg.port}"

    authfile = tmp_path / "auth.json"
    skopeo("login", "--cert-dir", str(certs.trust), "--authfile", str(authfile), "-u", "alice", "-p", password, host)
    src = make_busybox_oci_layout(tmp_path / "src")
    ref = f"docker://{host}/alice/app:1"
    skopeo("copy", "--authfile", str(authfile), "--dest-cert-dir", str(certs.trust), f"oci:{src.layout_dir}:latest", ref)
    skopeo("copy", "--authfile", str(authfile), "--src-cert-dir", str(certs.trust), ref, f"oci:{tmp_path / 'out'}:x")

    # Tokens the test knows: GET /token with Basic auth, and the OAuth2 password grant.
    secrets = [password, wrong, base64.b64encode(f"alice:{password}".encode()).decode(),
               base64.b64encode(f"alice:{wrong}".encode()).decode()]
    r = requests.get(realm, params={"service": "berth-registry", "scope": "repository:alice/app:pull"},
                     auth=("alice", password), verify=ca)
    assert r.status_code == 200, r.text
    bearer = r.json()["token"]
    form = {"grant_type": "password", "username": "alice", "password": password, "service": "berth-registry",
            "scope": "repository:alice/app:pull", "client_id": "ops-e2e", "access_type": "offline"}
    r = requests.post(realm, data=form, verify=ca)
    assert r.status_code == 200, r.text
    secrets += [bearer, r.json()["access_token"], r.json()["refresh_token"]]
    assert requests.get(realm, params={"service": "berth-registry"}, auth=("alice", wrong), verify=ca).status_code == 401
    for path in ("/v2/alice/app/tags/list", "/v2/alice/app/manifests/1"):
        r = requests.get(f"https://{host}{path}", verify=ca, headers={
            "Authorization": f"Bearer {bearer}", "Accept": OCI_MANIFEST, "User-Agent": "ops-e2e/bearer"})
        assert r.status_code == 200, (path, r.status_code, r.text)
    assert requests.get(f"https://{host}/v2/", verify=ca, headers={"Authorization": f"Bearer {bearer}x"}).status_code == 401

    wait_until(lambda: re.search(r'^\S+ - alice ' + CLF_TIME + r' "GET /v2/alice/app/tags/list HTTP/1\.1" 200 .*ops-e2e/bearer',
                                 reg.log_text(), re.M), 10, "the access line of the bearer request, with user alice")
    reg.stop()
    auth.stop()
    logs = {"berth-registry": reg.log_text(), "berth-auth": auth.log_text()}
    for name, log in logs.items():
        for secret in secrets + ["Authorization", "eyJ"]:
            assert secret not in log, f"{name}'s log holds {secret[:12]}...: " + \
                next(line for line in log.splitlines() if secret in line)[:400]


# ----------------------------------------------------------------------------- config validation

def full_config(tmp_path) -> dict:
    """docs/operations.md's example, on free loopback ports."""
    return {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "root")}},
        "http": {"addr": f"127.0.0.1:{free_port()}",
                 "debug": {"addr": f"127.0.0.1:{free_port()}", "prometheus": {"enabled": True, "path": "/metrics"}}},
        "health": {
            "storagedriver": {"enabled": True, "interval": "10s", "threshold": 3},
            "file": [{"file": str(tmp_path / "maintenance"), "interval": "10s"}],
            "http": [{"uri": "http://127.0.0.1:9/healthz", "interval": "10s", "threshold": 3, "statuscode": 200,
                      "timeout": "3s", "headers": {"X-Probe": ["lb"]}}],
            "tcp": [{"addr": "127.0.0.1:9", "interval": "10s", "threshold": 3, "timeout": "3s"}]},
        "notifications": {
            "events": {"includereferences": True},
            "endpoints": [{"name": "ci", "url": "https://ci.example.com/registry-events",
                           "headers": {"Authorization": ["Bearer abc"]}, "timeout": "1s", "threshold": 5,
                           "backoff": "1s", "maxbackoff": "5m", "ignoredmediatypes": ["application/octet-stream"],
                           "ignore": {"mediatypes": ["application/vnd.example.ignored"], "actions": ["pull"]}}]},
    }


def run_registry(*args, env=None, timeout=30):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    clean.update(env or {})
    return subprocess.run([str(BERTH_REGISTRY), *args], capture_output=True, text=True, timeout=timeout, env=clean,
                          stdin=subprocess.DEVNULL)


def test_verify_config_accepts_the_documented_example(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(full_config(tmp_path), sort_keys=False))
    res = run_registry("verify-config", str(path))
    assert res.returncode == 0 and "ok" in res.stdout, (res.stdout, res.stderr)
    unknown = [line for line in (res.stdout + res.stderr).splitlines()
               if "warning" in line.lower() and any(k in line for k in ("health", "notifications", "debug"))]
    assert not unknown, unknown


def _set(path: str, value):
    def change(config):
        node = config
        keys = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        for key in keys[:-1]:
            node = node[int(key[1:-1])] if key.startswith("[") else node[key]
        last = keys[-1]
        node[int(last[1:-1]) if last.startswith("[") else last] = value
    return change


@pytest.mark.parametrize("key, value", [
    ("notifications.endpoints[0].url", "not a url"),
    ("health.storagedriver.interval", "ten seconds"),
    ("http.debug.addr", "127.0.0.1:99999"),
    ("notifications.endpoints[0].ignore.actions", ["pull", "explode"]),
])
def test_bad_operations_keys_are_refused_with_their_path(tmp_path, key, value):
    config = full_config(tmp_path)
    _set(key, value)(config)
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    res = run_registry("verify-config", str(path))
    assert res.returncode != 0, f"verify-config accepted {key}: {value!r}\n{res.stdout}{res.stderr}"
    assert key in res.stderr, f"stderr does not name {key}:\n{res.stderr}"
    try:
        served = run_registry("serve", str(path), timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve started with {key}: {value!r}")
    assert served.returncode != 0 and key in served.stderr + served.stdout, (served.returncode, served.stderr)


def test_environment_moves_the_debug_listener(tmp_path, procs):
    config_port, env_port = free_port(), free_port()
    reg = OpsRegistry(tmp_path / "registry", prometheus=True, debug_port=env_port,
                      env={"REGISTRY_HTTP_DEBUG_ADDR": f"127.0.0.1:{env_port}"})
    reg.config["http"]["debug"]["addr"] = f"127.0.0.1:{config_port}"
    procs(reg)   # ready once /v2/ answers and the debug listener accepts on env_port
    assert yaml.safe_load(reg.config_path.read_text())["http"]["debug"]["addr"] == f"127.0.0.1:{config_port}"
    wait_healthy(reg)
    assert reg.api().status == 200
    metrics = get(env_port, "/metrics")
    assert metrics.status == 200 and b"registry_http_requests_total" in metrics.body, metrics
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", config_port), timeout=2).close()


# ----------------------------------------------------------------------------- berth-auth and GC metrics
def test_berth_auth_counts_grants_by_outcome(tmp_path, procs):
    auth_dir = tmp_path / "auth"
    certs = make_certs(auth_dir / "certs")
    write_htpasswd(auth_dir / "users.htpasswd", {"alice": "s3cret-grants"})
    port = free_port()
    procs(PlainBerthAuth(auth_dir, AUTH_CONFIG.format(port=port, tls=""), port=port, ca_cert=certs.ca))
    token = f"http://127.0.0.1:{port}/token"
    asks = [("alice", "s3cret-grants", "repository:alice/app:pull,push", 200),   # issued
            ("alice", "s3cret-grants", "repository:bob/app:pull", 200),          # denied: another's repository
            ("alice", "wrong", "repository:alice/app:pull", 401),                # bad credentials
            ("alice", "wrong", "repository:alice/app:pull", 401)]
    for user, password, scope, status in asks:
        r = requests.get(token, params={"service": "berth-registry", "scope": scope}, auth=(user, password), timeout=10)
        assert r.status_code == status, (scope, r.status_code, r.text)
    r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    _, samples = parse_metrics(r.text)
    assert metric_sum(samples, "berth_auth_grants_total", outcome="issued") == 1, r.text
    assert metric_sum(samples, "berth_auth_grants_total", outcome="denied") == 1, r.text
    assert metric_sum(samples, "berth_auth_grants_total", outcome="bad_credentials") == 2, r.text
    assert metric_sum(samples, "berth_auth_request_duration_seconds_count", endpoint="token") == 4, r.text
    assert "s3cret-grants" not in r.text and "alice" not in r.text


def test_gc_and_storage_metrics(tmp_path, procs):
    reg = procs(OpsRegistry(tmp_path / "registry", prometheus=True, extra_config={"storage": {
        "delete": {"enabled": True}, "maintenance": {"gc": {"interval": "1s", "delay": "0s", "untagged": True}}}}))
    repo = "gcmetrics/app"
    digest, _, layer = push_small_image(reg, repo, "1")
    assert raw(reg, "DELETE", f"/v2/{repo}/manifests/{digest}").status == 202

    def swept():
        _, samples = parse_metrics(get(reg.debug_port, "/metrics").body.decode())
        return samples if metric_sum(samples, "registry_gc_deleted_total", type="blob") >= 3 else None
    # The DELETE removed the manifest itself; sweeps free its bytes, its config and its layer.
    samples = wait_until(swept, 30, "a sweep to remove the deleted image's manifest bytes, config and layer")
    assert metric_sum(samples, "registry_gc_runs_total") >= 1
    assert metric_sum(samples, "registry_gc_deleted_bytes_total") >= len(layer)
    assert metric_sum(samples, "registry_gc_run_duration_seconds_count") >= 1
    assert metric_sum(samples, "registry_repositories") >= 1
    assert any(n == "registry_storage_bytes" for n, _, _ in samples)
    assert any(n == "registry_uploads_in_progress" for n, _, _ in samples)
    assert metric_sum(samples, "registry_storage_action_seconds_count", driver="filesystem", action="Move") >= 2

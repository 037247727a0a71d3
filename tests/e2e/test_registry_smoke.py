"""Smoke tests of berth-registry as a whole program: serve, verify-config, import.

Self-contained (no shared harness) so that the most basic promises are checked even when the
larger suites are skipped: skopeo pushes and pulls an image built from local files, Distribution's
own storage is imported and served in place, and bad configs are refused naming their key.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("BERTH_BIN_DIR", REPO / ".build" / "debug"))
BERTH = BIN_DIR / "berth-registry"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port, proc, log):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {Path(log).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


def start(cmd, port, tmp, env=None):
    log = tmp / f"server-{port}.log"
    proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    wait_ready(port, proc, log)
    return proc


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def write_config(path, root, port, delete=True):
    path.write_text(f"""version: 0.1
log: {{level: warn}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: {str(delete).lower()}}}
http: {{addr: 127.0.0.1:{port}}}
""")


def busybox_layout(dest: Path):
    """An OCI image layout with one layer holding /bin/busybox (Debian busybox-static)."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer_tar = dest.parent / "layer.tar"
    with tarfile.open(layer_tar, "w") as tar:
        tar.add("/bin/busybox", arcname="bin/busybox")
    raw = layer_tar.read_bytes()
    import gzip
    gz = gzip.compress(raw, mtime=0)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        (blobs / h).write_bytes(data)
        return "sha256:" + h

    layer = put(gz)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/busybox", "true"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}).encode()
    cfg = put(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": len(gz)}]}).encode()
    man = put(manifest)
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man, "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return man


def skopeo(*args):
    return subprocess.run(["skopeo", *args], check=True, capture_output=True, text=True).stdout


def layout_blobs(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (path / "blobs" / "sha256").iterdir()}


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def test_skopeo_round_trip_is_byte_identical(tmp):
    port = free_port()
    write_config(tmp / "config.yml", tmp / "root", port)
    src = tmp / "src"
    digest = busybox_layout(src)
    proc = start([str(BERTH), "serve", str(tmp / "config.yml")], port, tmp)
    try:
        ref = f"docker://127.0.0.1:{port}/smoke/busybox:latest"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", ref)
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref))
        assert inspected["Digest"] == digest
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp / 'out'}:latest")
        out = layout_blobs(tmp / "out")
        for name, content_hash in out.items():
            assert name == content_hash, "every pulled blob matches its digest"
        assert set(layout_blobs(src)) == set(out)
    finally:
        stop(proc)


def test_import_serves_distribution_storage_in_place(tmp):
    dist_port = free_port()
    write_config(tmp / "dist.yml", tmp / "dist", dist_port)
    src = tmp / "src"
    digest = busybox_layout(src)
    dist = start(["docker-registry", "serve", str(tmp / "dist.yml")], dist_port, tmp)
    try:
        skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", f"docker://127.0.0.1:{dist_port}/old/busybox:v1")
    finally:
        stop(dist)
    blob_files_before = sorted(str(p) for p in (tmp / "dist").rglob("data"))
    result = subprocess.run([str(BERTH), "import", str(tmp / "dist")], check=True, capture_output=True, text=True)
    assert "1 tags" in result.stdout
    port = free_port()
    write_config(tmp / "berth.yml", tmp / "dist", port)
    proc = start([str(BERTH), "serve", str(tmp / "berth.yml")], port, tmp)
    try:
        ref = f"docker://127.0.0.1:{port}/old/busybox:v1"
        assert json.loads(skopeo("inspect", "--tls-verify=false", ref))["Digest"] == digest
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp / 'out'}:v1")
        assert set(layout_blobs(tmp / "out")) == set(layout_blobs(src))
    finally:
        stop(proc)
    # No blob was copied or moved: the same data files, at Distribution's paths.
    assert sorted(str(p) for p in (tmp / "dist" / "docker").rglob("data")) == [
        p for p in blob_files_before if "/docker/" in p]


def test_verify_config_names_every_bad_key(tmp):
    bad = tmp / "bad.yml"
    bad.write_text("version: 0.1\nlog: {level: loud}\nstorage: {filesystem: {rootdirectory: /x}, delete: {enabled: maybe}}\nhttp: {addr: nowhere}\n")
    result = subprocess.run([str(BERTH), "verify-config", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    for key in ("log.level", "storage.delete.enabled", "http.addr"):
        assert key in result.stderr
    good = tmp / "good.yml"
    write_config(good, tmp / "root", 5000)
    ok = subprocess.run([str(BERTH), "verify-config", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_environment_overrides_config(tmp):
    port = free_port()
    write_config(tmp / "config.yml", tmp / "root", 1)  # port 1 would fail; the env wins
    proc = start([str(BERTH), "serve", str(tmp / "config.yml")], port, tmp,
                 env={"REGISTRY_HTTP_ADDR": f"127.0.0.1:{port}",
                      "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp / "envroot")})
    try:
        data = b"override"
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/x/blobs/uploads/?digest={d}", data=data, method="POST")
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
        assert (tmp / "envroot" / "docker/registry/v2/blobs/sha256" / d[7:9] / d[7:] / "data").read_bytes() == data
    finally:
        stop(proc)


def test_htpasswd_lets_in_only_the_right_password(tmp):
    port = free_port()
    pw = subprocess.run(["htpasswd", "-Bbn", "alice", "correct horse"], check=True, capture_output=True, text=True).stdout
    (tmp / "htpasswd").write_text(pw)
    write_config(tmp / "config.yml", tmp / "root", port)
    with open(tmp / "config.yml", "a") as f:
        f.write(f"auth:\n  htpasswd:\n    realm: berth-test\n    path: {tmp / 'htpasswd'}\n")
    src = tmp / "src"
    digest = busybox_layout(src)
    log = tmp / "server.log"
    proc = subprocess.Popen([str(BERTH), "serve", str(tmp / "config.yml")], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            except urllib.error.HTTPError as e:
                assert e.code == 401
                assert e.headers["WWW-Authenticate"] == 'Basic realm="berth-test"'
                assert json.loads(e.read())["errors"][0]["code"] == "UNAUTHORIZED"
                break
            except Exception:
                time.sleep(0.1)
        ref = f"docker://127.0.0.1:{port}/private/busybox:latest"
        wrong = subprocess.run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:wrong",
                                f"oci:{src}:latest", ref], capture_output=True, text=True)
        assert wrong.returncode != 0
        assert "401" in wrong.stderr or "unauthorized" in wrong.stderr.lower()
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:correct horse", f"oci:{src}:latest", ref)
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", "alice:correct horse", ref))
        assert inspected["Digest"] == digest
        # Nothing secret reaches the log.
        text = log.read_text()
        assert "correct horse" not in text and "Basic " not in text
    finally:
        stop(proc)

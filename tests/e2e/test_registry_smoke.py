"""Smoke tests of berth-registry as a whole program: serve, verify-config, import.

The most basic promises, through the same helpers as every other suite: skopeo pushes and pulls
an image built from local files, Distribution's own storage is imported and served in place, and
bad configs are refused naming their key.
"""
import hashlib
import json
import subprocess
import urllib.error
import urllib.request

import pytest

from images import layout_blobs_verified, make_busybox_oci_layout
from programs import BERTH_REGISTRY
from registry_process import RegistryProcess
from skopeo_support import skopeo

QUIET = {"log": {"level": "warn"}}


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def test_skopeo_round_trip_is_byte_identical(tmp):
    src = tmp / "src"
    digest = make_busybox_oci_layout(src).manifest_digest
    with RegistryProcess(tmp / "registry", "berth", extra_config=QUIET) as reg:
        ref = reg.ref("smoke/busybox", "latest")
        skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", ref)
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
        assert inspected["Digest"] == digest
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp / 'out'}:latest")
        out = layout_blobs_verified(tmp / "out")  # every pulled blob matches its digest
        assert set(layout_blobs_verified(src)) == set(out)


def test_import_serves_distribution_storage_in_place(tmp):
    src = tmp / "src"
    digest = make_busybox_oci_layout(src).manifest_digest
    with RegistryProcess(tmp / "registry", "distribution", extra_config=QUIET) as dist:
        skopeo("copy", "--dest-tls-verify=false", f"oci:{src}:latest", dist.ref("old/busybox", "v1"))
    root = dist.root_dir
    blob_files_before = sorted(str(p) for p in root.rglob("data"))
    result = subprocess.run([str(BERTH_REGISTRY), "import", str(root)], check=True, capture_output=True, text=True)
    assert "1 tags" in result.stdout
    with RegistryProcess(tmp / "registry", "berth", extra_config=QUIET) as reg:  # the same root directory
        ref = reg.ref("old/busybox", "v1")
        assert json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)["Digest"] == digest
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{tmp / 'out'}:v1")
        assert set(layout_blobs_verified(tmp / "out")) == set(layout_blobs_verified(src))
    # No blob was copied or moved: the same data files, at Distribution's paths.
    assert sorted(str(p) for p in (root / "docker").rglob("data")) == [
        p for p in blob_files_before if "/docker/" in p]


def test_verify_config_names_every_bad_key(tmp):
    bad = tmp / "bad.yml"
    bad.write_text("version: 0.1\nlog: {level: loud}\nstorage: {filesystem: {rootdirectory: /x}, delete: {enabled: maybe}}\nhttp: {addr: nowhere}\n")
    result = subprocess.run([str(BERTH_REGISTRY), "verify-config", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    for key in ("log.level", "storage.delete.enabled", "http.addr"):
        assert key in result.stderr
    good = RegistryProcess(tmp / "good", "berth", port=5000, extra_config=QUIET).write_config()
    ok = subprocess.run([str(BERTH_REGISTRY), "verify-config", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr


def test_environment_overrides_config(tmp):
    # Port 1 in the file would fail; the environment wins (and names another root).
    reg = RegistryProcess(tmp / "registry", "berth", extra_config={**QUIET, "http": {"addr": "127.0.0.1:1"}})
    reg.extra_env = {"REGISTRY_HTTP_ADDR": f"127.0.0.1:{reg.port}",
                     "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY": str(tmp / "envroot")}
    with reg:
        data = b"override"
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        req = urllib.request.Request(f"{reg.url}/v2/x/blobs/uploads/?digest={d}", data=data, method="POST")
        with urllib.request.urlopen(req) as r:
            assert r.status == 201
        assert (tmp / "envroot" / "docker/registry/v2/blobs/sha256" / d[7:9] / d[7:] / "data").read_bytes() == data


def test_htpasswd_lets_in_only_the_right_password(tmp):
    pw = subprocess.run(["htpasswd", "-Bbn", "alice", "correct horse"], check=True, capture_output=True, text=True).stdout
    (tmp / "htpasswd").write_text(pw)
    src = tmp / "src"
    digest = make_busybox_oci_layout(src).manifest_digest
    with RegistryProcess(tmp / "registry", "berth", htpasswd=tmp / "htpasswd", realm="berth-test",
                         extra_config=QUIET) as reg:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{reg.url}/v2/", timeout=1)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="berth-test"'
        assert json.loads(refused.value.read())["errors"][0]["code"] == "UNAUTHORIZED"
        ref = reg.ref("private/busybox", "latest")
        wrong = skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:wrong", f"oci:{src}:latest", ref,
                       check=False)
        assert wrong.returncode != 0
        assert "401" in wrong.stderr or "unauthorized" in wrong.stderr.lower()
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:correct horse", f"oci:{src}:latest", ref)
        inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", "alice:correct horse", ref).stdout)
        assert inspected["Digest"] == digest
        # Nothing secret reaches the log.
        text = reg.log_text()
        assert "correct horse" not in text and "Basic " not in text

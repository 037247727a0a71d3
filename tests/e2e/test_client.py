"""End-to-end tests of the berth client against real registries on loopback.

Run: swift build --product berth && pytest -q tests/e2e
Every test runs against Distribution 2.8 and, when $BERTH_BIN_DIR/berth-registry exists,
against berth-registry too.
"""

import base64
import json
import os
import signal
import socket
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from certs import make_certs
from images import busybox_layout, multiarch_layout, random_layers_layout, sha256_file
from programs import BERTH_CLIENT, Berth, is_executable
from registry_process import RegistryProcess, registry_kinds
from skopeo_support import skopeo
from token_service import TokenServer

pytestmark = pytest.mark.skipif(not is_executable(BERTH_CLIENT), reason=f"{BERTH_CLIENT} not built")


def serve(workdir: Path, impl: str = "distribution", **kwargs) -> RegistryProcess:
    """A started registry in a directory of its own under workdir, named localhost:PORT."""
    return RegistryProcess(tempfile.mkdtemp(prefix="registry-", dir=workdir), impl, hostname="localhost",
                           **kwargs).start()


@pytest.fixture(params=registry_kinds(), ids=lambda impl: "berth-registry" if impl == "berth" else impl)
def registry(request, tmp_path):
    reg = serve(tmp_path, request.param)
    yield reg
    reg.close()


@pytest.fixture
def berth(tmp_path):
    return Berth(tmp_path)


def skopeo_push_layout(layout: Path, tag: str, dest: str, all_images=False):
    args = ["copy", "--dest-tls-verify=false"]
    if all_images:
        args.append("--all")
    skopeo(*args, f"oci:{layout}:{tag}", f"docker://{dest}")


def test_import_push_pull_roundtrip(registry, berth, tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "bin" / "hello").write_text("hello world\n")
    ref = f"{registry.host}/e2e/imported:1"
    digest = berth.run("import", str(rootfs), ref).stdout.strip()
    assert digest.startswith("sha256:")
    berth.run("push", ref)
    other = Berth(tmp_path, "other")
    out = other.run("pull", ref)
    assert digest in out.stdout
    names = [m["annotations"]["org.opencontainers.image.ref.name"] for m in other.index()["manifests"]]
    assert names == [ref]
    other.verify_store()
    assert (other.root / "oci-layout").exists()
    # The pulled layer is the imported tar.
    manifest = json.loads((other.root / "blobs/sha256" / digest.split(":")[1]).read_text())
    layer = other.root / "blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]
    with tarfile.open(layer) as tar:
        assert "./bin/hello" in tar.getnames()


def test_pull_image_pushed_by_skopeo(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    desc = busybox_layout(layout, "v1")
    skopeo_push_layout(layout, "v1", f"{registry.host}/e2e/busybox:v1")
    out = berth.run("pull", f"{registry.host}/e2e/busybox:v1")
    assert desc["digest"] in out.stdout
    berth.verify_store()
    for blob in (layout / "blobs/sha256").iterdir():
        assert (berth.root / "blobs/sha256" / blob.name).exists()
    images = berth.run("images").stdout
    assert f"{registry.host}/e2e/busybox" in images and "v1" in images


def test_push_then_skopeo_pull_same_digests(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    busybox_layout(layout, "v1")
    # Load the layout into berth's store via an archive, push it with berth.
    archive = tmp_path / "img.tar"
    subprocess.run(["tar", "-C", layout, "-cf", archive, "."], check=True)
    berth.run("load", "-i", str(archive))
    loaded = berth.index()["manifests"][0]
    ref = f"{registry.host}/e2e/pushed:v1"
    berth.run("tag", loaded["annotations"]["org.opencontainers.image.ref.name"], ref)
    pushed = berth.run("push", ref).stdout
    assert loaded["digest"] in pushed
    out = tmp_path / "skopeo-out"
    skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:v1")
    index = json.loads((out / "index.json").read_text())
    assert index["manifests"][0]["digest"] == loaded["digest"]
    assert sorted(p.name for p in (out / "blobs/sha256").iterdir()) == \
        sorted(p.name for p in (layout / "blobs/sha256").iterdir())


def test_copy_same_registry_mounts_and_cross_registry_streams(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    desc = busybox_layout(layout, "v1")
    skopeo_push_layout(layout, "v1", f"{registry.host}/e2e/src:v1")
    out = berth.run("copy", f"{registry.host}/e2e/src:v1", f"{registry.host}/e2e/dst:v2")
    assert "mounted" in out.stderr
    assert desc["digest"] in out.stdout
    second = serve(tmp_path)
    try:
        out = berth.run("copy", f"{registry.host}/e2e/src:v1", f"{second.host}/far/away:v3")
        assert "copied" in out.stderr and desc["digest"] in out.stdout
        assert berth.run("tags", f"{second.host}/far/away").stdout.split() == ["v3"]
    finally:
        second.close()
    assert not (berth.root / "blobs").exists() or not any((berth.root / "blobs/sha256").iterdir())


def test_tags_catalog_inspect_delete(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    desc = busybox_layout(layout, "v1")
    for tag in ("v1", "v2"):
        skopeo_push_layout(layout, "v1", f"{registry.host}/e2e/app:{tag}")
    assert sorted(berth.run("tags", f"{registry.host}/e2e/app").stdout.split()) == ["v1", "v2"]
    assert "e2e/app" in berth.run("catalog", registry.host).stdout.split()
    report = json.loads(berth.run("inspect", f"{registry.host}/e2e/app:v1").stdout)
    assert report["digest"] == desc["digest"]
    assert report["config"]["architecture"] == "amd64"
    assert report["manifest"]["layers"][0]["mediaType"].endswith("tar+gzip")
    berth.run("delete", f"{registry.host}/e2e/app:v2")
    missing = berth.run("inspect", f"{registry.host}/e2e/app:v1", check=False)
    assert missing.returncode != 0 and "manifest unknown" in missing.stderr


def test_multiarch_pull_platform_and_copy_whole_index(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    index, manifests = multiarch_layout(layout)
    skopeo_push_layout(layout, "multi", f"{registry.host}/e2e/multi:1", all_images=True)
    out = berth.run("pull", "--platform", "linux/arm64", f"{registry.host}/e2e/multi:1")
    assert manifests[1]["digest"] in out.stdout
    entry = berth.index()["manifests"][0]
    assert entry["digest"] == manifests[1]["digest"]
    default = berth.run("pull", f"{registry.host}/e2e/multi:1").stdout
    assert manifests[0]["digest"] in default
    bad = berth.run("pull", "--platform", "linux/s390x", f"{registry.host}/e2e/multi:1", check=False)
    assert bad.returncode != 0 and "linux/arm64" in bad.stderr
    out = berth.run("copy", f"{registry.host}/e2e/multi:1", f"{registry.host}/e2e/multi-copy:1")
    assert index["digest"] in out.stdout
    report = json.loads(berth.run("inspect", f"{registry.host}/e2e/multi-copy:1").stdout)
    assert report["digest"] == index["digest"] and report["manifestDigest"] == manifests[0]["digest"]
    # An index in the local store (loaded from an OCI layout) is pushed whole.
    archive = tmp_path / "multi.tar"
    subprocess.run(["tar", "-C", layout, "-cf", archive, "."], check=True)
    loader = Berth(tmp_path, "loader")
    loader.run("load", "-i", str(archive))
    loader.run("tag", "localhost/multi:multi", f"{registry.host}/e2e/multi-pushed:1")
    assert index["digest"] in loader.run("push", f"{registry.host}/e2e/multi-pushed:1").stdout
    raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/e2e/multi-pushed:1").stdout
    assert [m["digest"] for m in json.loads(raw)["manifests"]] == [m["digest"] for m in manifests]
    by_digest = berth.run("pull", "--platform", "linux/arm64", f"{registry.host}/e2e/multi-pushed@{index['digest']}")
    assert manifests[1]["digest"] in by_digest.stdout


def test_login_htpasswd_basic(tmp_path, berth):
    reg = serve(tmp_path, htpasswd={"alice": "s3cret"})
    try:
        layout = tmp_path / "layout"
        busybox_layout(layout, "v1")
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret",
               f"oci:{layout}:v1", f"docker://{reg.host}/private/app:v1")
        denied = berth.run("pull", f"{reg.host}/private/app:v1", check=False)
        assert denied.returncode != 0 and "berth login" in denied.stderr
        bad = berth.run("login", reg.host, "-u", "alice", "--password-stdin", input="wrong\n", check=False)
        assert bad.returncode != 0 and "wrong" not in bad.stderr + bad.stdout
        out = berth.run("login", reg.host, "-u", "alice", "--password-stdin", input="s3cret\n")
        assert "Login Succeeded" in out.stdout
        config = json.loads((berth.docker_config / "config.json").read_text())
        assert base64.b64decode(config["auths"][reg.host]["auth"]).decode() == "alice:s3cret"
        berth.run("pull", f"{reg.host}/private/app:v1")
        berth.run("logout", reg.host)
        config = json.loads((berth.docker_config / "config.json").read_text())
        assert reg.host not in config.get("auths", {})
    finally:
        reg.close()


def test_bearer_token_flow_denied_scope_and_identity_token(tmp_path, berth):
    tokens = TokenServer(tmp_path, {"alice": ("pw-alice", ["pull", "push", "delete", "*"]),
                                    "reader": ("pw-reader", ["pull"])})
    reg = serve(tmp_path, extra_config=tokens.registry_auth())
    try:
        rootfs = tmp_path / "rootfs"
        rootfs.mkdir()
        (rootfs / "f").write_text("x")
        ref = f"{reg.host}/team/app:1"
        berth.run("import", str(rootfs), ref)
        unauth = berth.run("push", ref, check=False)
        assert unauth.returncode != 0 and ("login" in unauth.stderr or "denied" in unauth.stderr)
        # The token service issues refresh tokens: login stores an identitytoken, not the password.
        berth.run("login", reg.host, "-u", "alice", "--password-stdin", input="pw-alice")
        config = json.loads((berth.docker_config / "config.json").read_text())
        assert config["auths"][reg.host].get("identitytoken")
        assert "pw-alice" not in json.dumps(config)
        berth.run("push", ref)
        assert any(r[1] == "refresh_token" for r in tokens.requests)
        assert "1" in berth.run("tags", f"{reg.host}/team/app").stdout.split()
        # A plain user:password entry is answered with GET + Basic.
        reader = Berth(tmp_path, "reader")
        (reader.docker_config / "config.json").write_text(json.dumps(
            {"auths": {reg.host: {"auth": base64.b64encode(b"reader:pw-reader").decode()}}}))
        reader.run("pull", ref)
        assert any(r[0] == "GET" and r[3] == "reader" for r in tokens.requests)
        reader.run("tag", ref, f"{reg.host}/team/app:2")
        denied = reader.run("push", f"{reg.host}/team/app:2", check=False)
        assert denied.returncode != 0 and "denied" in denied.stderr and "team/app" in denied.stderr
    finally:
        reg.close()
        tokens.stop()


def test_credential_helper(tmp_path, berth):
    reg = serve(tmp_path, htpasswd={"bob": "helper-pw"})
    try:
        bindir = tmp_path / "bin"
        bindir.mkdir()
        helper = bindir / "docker-credential-e2e"
        helper.write_text("#!/bin/sh\nread host\n[ \"$1\" = get ] && "
                          "echo '{\"ServerURL\":\"'$host'\",\"Username\":\"bob\",\"Secret\":\"helper-pw\"}'\n")
        helper.chmod(0o755)
        (berth.docker_config / "config.json").write_text(json.dumps({"credHelpers": {reg.host: "e2e"}}))
        berth.extra_env["PATH"] = f"{bindir}:{os.environ['PATH']}"
        assert berth.run("catalog", reg.host).returncode == 0
    finally:
        reg.close()


def test_interrupted_pull_resumes_and_store_stays_clean(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    random_layers_layout(layout, [400 << 20], tag="big")
    skopeo_push_layout(layout, "big", f"{registry.host}/e2e/big:1")
    ref = f"{registry.host}/e2e/big:1"
    proc = berth.popen("pull", "--jobs", "1", ref)
    ingest = berth.root / "ingest"
    deadline = time.time() + 60
    killed = False
    while time.time() < deadline and proc.poll() is None:
        partials = list(ingest.glob("*.partial")) if ingest.exists() else []
        if any(p.stat().st_size > (20 << 20) for p in partials):
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
        time.sleep(0.005)
    proc.wait()
    if not killed:
        pytest.skip("pull finished before it could be interrupted")
    berth.verify_store()
    assert berth.index()["manifests"] == []
    out = berth.run("pull", "--jobs", "1", ref)
    assert "resuming at" in out.stderr
    berth.verify_store()
    assert len(berth.index()["manifests"]) == 1
    assert not list(ingest.glob("*.partial"))


def test_save_and_load_roundtrip_and_docker_save(registry, berth, tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "file").write_text("saved")
    ref = "localhost/e2e/saved:1"
    digest = berth.run("import", str(rootfs), ref).stdout.strip()
    archive = tmp_path / "saved.tar"
    berth.run("save", ref, "-o", str(archive))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        assert "index.json" in names and "oci-layout" in names
        index = json.load(tar.extractfile("index.json"))
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "1"
    other = Berth(tmp_path, "other")
    assert ref in other.run("load", "-i", str(archive)).stdout
    assert other.index()["manifests"][0]["digest"] == digest
    # skopeo reads the saved layout too.
    extracted = tmp_path / "extracted"
    extracted.mkdir()
    subprocess.run(["tar", "-C", extracted, "-xf", archive], check=True)
    skopeo("copy", "--dest-tls-verify=false", f"oci:{extracted}:1", f"docker://{registry.host}/e2e/saved:1")
    # A docker save archive: manifest.json, config JSON and layer tars.
    dsave = tmp_path / "dsave"
    (dsave / "layer1").mkdir(parents=True)
    subprocess.run(["tar", "-C", rootfs, "-cf", dsave / "layer1" / "layer.tar", "."], check=True)
    diff = "sha256:" + sha256_file(dsave / "layer1" / "layer.tar")
    config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}}
    (dsave / "cfg.json").write_text(json.dumps(config))
    (dsave / "manifest.json").write_text(json.dumps(
        [{"Config": "cfg.json", "RepoTags": ["example/dsaved:7"], "Layers": ["layer1/layer.tar"]}]))
    darchive = tmp_path / "docker-save.tar"
    subprocess.run(["tar", "-C", dsave, "-cf", darchive, "."], check=True)
    assert "docker.io/example/dsaved:7" in other.run("load", "-i", str(darchive)).stdout
    other.run("tag", "example/dsaved:7", f"{registry.host}/e2e/dsaved:7")
    other.run("push", f"{registry.host}/e2e/dsaved:7")
    other.verify_store()


def test_rmi_collects_unused_blobs(berth, tmp_path):
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "a").write_text("a")
    berth.run("import", str(rootfs), "localhost/x/a:1")
    berth.run("tag", "localhost/x/a:1", "localhost/x/a:2")
    berth.run("rmi", "localhost/x/a:1")
    assert len(list((berth.root / "blobs/sha256").iterdir())) == 3
    berth.run("rmi", "localhost/x/a:2")
    assert list((berth.root / "blobs/sha256").iterdir()) == []
    missing = berth.run("rmi", "localhost/x/a:2", check=False)
    assert missing.returncode != 0 and "no such image" in missing.stderr


def test_chunked_push(registry, berth, tmp_path):
    layout = tmp_path / "layout"
    desc = random_layers_layout(layout, [3 << 20, 100], tag="c")
    archive = tmp_path / "c.tar"
    subprocess.run(["tar", "-C", layout, "-cf", archive, "."], check=True)
    berth.run("load", "-i", str(archive))
    loaded = berth.index()["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
    ref = f"{registry.host}/e2e/chunked:1"
    berth.run("tag", loaded, ref)
    berth.run("push", "--chunk-size", "1M", ref)
    out = tmp_path / "check"
    skopeo("copy", "--src-tls-verify=false", "--dest-oci-accept-uncompressed-layers", f"docker://{ref}", f"oci:{out}:1")
    assert json.loads((out / "index.json").read_text())["manifests"][0]["digest"] == desc["digest"]


def test_clear_errors(berth, tmp_path):
    unknown = berth.run("pull", "no-such-host.invalid/x/y:1", check=False)
    assert unknown.returncode != 0 and "unknown host" in unknown.stderr
    refused = berth.run("tags", "localhost:1/x/y", check=False)
    assert refused.returncode != 0 and "cannot connect" in refused.stderr
    bad = berth.run("pull", "Foo/Bar", check=False)
    assert bad.returncode != 0


def test_tls_with_certs_d(tmp_path, berth):
    hostname = socket.gethostname()
    try:
        if socket.gethostbyname(hostname) != "127.0.0.1":
            pytest.skip("host name does not resolve to loopback")
    except OSError:
        pytest.skip("host name does not resolve")
    pki = make_certs(tmp_path / "pki", hostname)
    reg = serve(tmp_path, tls=(pki.server_cert, pki.server_key))
    try:
        host = f"{hostname}:{reg.port}"
        certs = tmp_path / "certs.d"
        failure = berth.run("catalog", host, "--certs-dir", str(certs), check=False)
        assert failure.returncode != 0 and "TLS" in failure.stderr and f"{certs}/{host}/ca.crt" in failure.stderr
        (certs / host).mkdir(parents=True)
        (certs / host / "ca.crt").write_bytes(pki.ca.read_bytes())
        assert berth.run("catalog", host, "--certs-dir", str(certs)).returncode == 0
    finally:
        reg.close()

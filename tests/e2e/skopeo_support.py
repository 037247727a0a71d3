"""Helpers for test_skopeo.py on top of harness.py (which this module only uses, never changes).

- run_skopeo(): skopeo with an isolated credential store (no ~/.docker or auth.json leaks in);
- example_certs(): the output of certs-example/make-certs.sh, plus a foreign CA and client pair;
- MutualTLSRegistry: a RegistryProcess whose readiness probe and session present the client
  certificate (harness.RegistryProcess probes without one, which a clientcas server refuses);
- make_multiarch_oci_layout(): an OCI layout whose tag names an image index of two platforms;
- blob comparisons for OCI layouts and skopeo `dir:` copies.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import (OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, REPO_ROOT, RegistryProcess,
                     make_busybox_oci_layout, sha256_digest)

MAKE_CERTS = REPO_ROOT / "certs-example" / "make-certs.sh"
DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


# ----- skopeo

def skopeo_env(home: Path) -> dict:
    """Environment for skopeo with no credentials but the ones a test passes on the command line."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_AUTH_FILE", "DOCKER_CONFIG"))}
    env["REGISTRY_AUTH_FILE"] = str(home / "auth.json")   # absent file = no stored credentials
    env["DOCKER_CONFIG"] = str(home / "docker")
    env["XDG_RUNTIME_DIR"] = str(home / "run")
    (home / "run").mkdir(exist_ok=True)
    return env


_ENV_HOME: Path | None = None


def set_skopeo_home(path: Path) -> None:
    global _ENV_HOME
    _ENV_HOME = Path(path)


def run_skopeo(*args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """`skopeo --insecure-policy ARGS`; raises with stdout/stderr when check and it fails."""
    cmd = ["skopeo", "--insecure-policy", *[str(a) for a in args]]
    env = skopeo_env(_ENV_HOME) if _ENV_HOME else None
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {res.returncode}\nstdout: {res.stdout[-2000:]}\n"
                             f"stderr: {res.stderr[-4000:]}")
    return res


def skopeo_fails(*args, timeout: float = 300) -> str:
    """Run skopeo expecting failure; returns its stderr (lower-cased)."""
    res = run_skopeo(*args, check=False, timeout=timeout)
    assert res.returncode != 0, f"skopeo {' '.join(map(str, args))} unexpectedly succeeded:\n{res.stdout}\n{res.stderr}"
    return res.stderr.lower()


# ----- certificates

@dataclass
class Certs:
    dir: Path            # make-certs.sh OUTDIR
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    trust: Path          # cert dir: ca.crt only
    trust_mtls: Path     # cert dir: ca.crt + client.cert + client.key
    foreign_trust: Path  # cert dir: a CA that did not sign the server certificate
    foreign_client: Path  # cert dir: the right CA + a client pair signed by a foreign CA


def example_certs(dest: Path) -> Certs:
    """Run certs-example/make-certs.sh into dest/example and a second time into dest/foreign."""
    dest = Path(dest)
    for name in ("example", "foreign"):
        subprocess.run(["bash", str(MAKE_CERTS), str(dest / name)], check=True, capture_output=True, text=True)
    ex, fo = dest / "example", dest / "foreign"
    foreign_client = dest / "foreign-client"
    foreign_client.mkdir(exist_ok=True)
    shutil.copy(ex / "ca.crt", foreign_client / "ca.crt")
    shutil.copy(fo / "client.crt", foreign_client / "client.cert")
    shutil.copy(fo / "client.key", foreign_client / "client.key")
    return Certs(ex, ex / "ca.crt", ex / "server.crt", ex / "server.key", ex / "client.crt", ex / "client.key",
                 ex / "trust", ex / "trust-mtls", fo / "trust", foreign_client)


class MutualTLSRegistry(RegistryProcess):
    """A registry with http.tls.clientcas; its probe and session() present the example client cert."""

    def __init__(self, workdir, impl, certs: Certs, **kwargs):
        extra = kwargs.pop("extra_config", {}) or {}
        extra = {**extra, "http": {**extra.get("http", {}), "tls": {"clientcas": [str(certs.ca)]}}}
        super().__init__(workdir, impl, tls=(certs.server_cert, certs.server_key), extra_config=extra, **kwargs)
        self.ca_cert = certs.ca
        self.certs = certs

    def _probe(self) -> int:
        ctx = ssl.create_default_context(cafile=str(self.certs.ca))
        ctx.load_cert_chain(str(self.certs.client_cert), str(self.certs.client_key))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=ctx)
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def session(self):
        s = super().session()
        s.cert = (str(self.certs.client_cert), str(self.certs.client_key))
        return s


# ----- images

@dataclass
class MultiArchInfo:
    layout_dir: Path
    tag: str
    index_digest: str
    index: bytes
    platforms: dict      # "linux/amd64" -> (manifest digest, manifest bytes)
    blobs: dict          # every blob of the layout


def _goarch_pair(info) -> str:
    cfg = json.loads(info.config)
    return f"{cfg['os']}/{cfg['architecture']}"


def make_multiarch_oci_layout(dest_dir, tag: str = "multi") -> MultiArchInfo:
    """An OCI layout whose `tag` names an image index of linux/amd64 and linux/arm64 (v8) images.

    The first image is harness.make_busybox_oci_layout's (native busybox); the second shares its
    busybox layer, adds a layer holding /etc/platform and declares arm64 in its config (the bytes
    are only ever copied, never run).
    """
    dest = Path(dest_dir)
    native = make_busybox_oci_layout(dest, tag="native")
    other_src = make_busybox_oci_layout(dest.parent / (dest.name + "-second"),
                                        extra_layers=[{"etc/platform": b"linux/arm64/v8\n"}])
    blobs_dir = dest / "blobs" / "sha256"
    blobs = dict(native.blobs)

    def put(data: bytes) -> str:
        d = sha256_digest(data)
        (blobs_dir / d.split(":", 1)[1]).write_bytes(data)
        blobs[d] = data
        return d

    native_cfg = json.loads(native.config)
    second_arch = "arm64" if native_cfg["architecture"] != "arm64" else "amd64"
    for digest, gz, _ in other_src.layers:
        put(gz)
    cfg = json.loads(other_src.config)
    cfg["architecture"] = second_arch
    if second_arch == "arm64":
        cfg["variant"] = "v8"
    config = json.dumps(cfg, separators=(",", ":")).encode()
    config_digest = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": len(gz)} for d, gz, _ in other_src.layers],
    }, separators=(",", ":")).encode()
    manifest_digest = put(manifest)

    second_platform = {"architecture": second_arch, "os": "linux"}
    if second_arch == "arm64":
        second_platform["variant"] = "v8"
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": native.manifest_digest, "size": len(native.manifest),
             "platform": {"architecture": native_cfg["architecture"], "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
             "platform": second_platform},
        ],
        "annotations": {"org.opencontainers.image.description": "berth e2e multi-platform index"},
    }, separators=(",", ":")).encode()
    index_digest = put(index)
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": index_digest, "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    shutil.rmtree(other_src.layout_dir)
    platforms = {f"linux/{native_cfg['architecture']}": (native.manifest_digest, native.manifest),
                 f"linux/{second_arch}": (manifest_digest, manifest)}
    return MultiArchInfo(dest, tag, index_digest, index, platforms, blobs)


# ----- comparisons

def layout_blobs_verified(layout_dir) -> dict:
    """{digest: bytes} of an OCI layout; asserts every file's content hashes to its name."""
    out = {}
    d = Path(layout_dir) / "blobs" / "sha256"
    for p in sorted(d.iterdir()):
        data = p.read_bytes()
        assert hashlib.sha256(data).hexdigest() == p.name, f"{p} does not hash to its name"
        out["sha256:" + p.name] = data
    return out


def layout_index(layout_dir) -> dict:
    return json.loads((Path(layout_dir) / "index.json").read_text())


def dir_copy(dir_path) -> tuple[bytes, dict]:
    """(manifest.json bytes, {digest: bytes}) of a skopeo `dir:` copy (blobs named by hex digest)."""
    dir_path = Path(dir_path)
    blobs = {}
    for p in dir_path.iterdir():
        if len(p.name) == 64 and all(c in "0123456789abcdef" for c in p.name):
            data = p.read_bytes()
            assert hashlib.sha256(data).hexdigest() == p.name, f"{p} does not hash to its name"
            blobs["sha256:" + p.name] = data
    return (dir_path / "manifest.json").read_bytes(), blobs

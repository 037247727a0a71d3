"""End-to-end harness: start berth-registry or CNCF Distribution, build test images, run skopeo.

Stable API (used by test_conformance.py, test_faults.py, test_skopeo.py, test_auth.py):

    free_port() -> int
    sha256_digest(data: bytes) -> "sha256:<hex>"
    registry_impl() -> "berth" | "distribution"        (env E2E_REGISTRY, default berth)
    implementation_available(impl) -> (bool, reason)

    reg = RegistryProcess(workdir, impl=None, tls=False, htpasswd=None, delete_enabled=True,
                          extra_config=None, env=None, ready_timeout=30)
    reg.start()                # writes config.yml, starts, waits for GET /v2/ -> 200 or 401
    reg.url                    # "http://127.0.0.1:PORT" (https:// with TLS)
    reg.host                   # "127.0.0.1:PORT" (for image references)
    reg.ref("repo", "tag")     # "docker://127.0.0.1:PORT/repo:tag"
    reg.session()              # requests.Session: CA verification and basic auth preset
    reg.root_dir, reg.config_path, reg.log_path, reg.ca_cert, reg.credentials, reg.pid, reg.impl
    reg.stop()                 # SIGTERM, wait; raises RuntimeError if it had to SIGKILL
    reg.kill9()                # SIGKILL, wait
    reg.restart()              # stop() + start() with the same root directory and port
    reg.log_tail(lines=60)     # last lines of the combined stdout/stderr log
    with RegistryProcess(...) as reg: ...     # start() / stop() (kill9 if stop fails)

    make_busybox_oci_layout(dest_dir, tag="latest", extra_layers=()) -> ImageInfo
    skopeo(*args, check=True, timeout=300) -> subprocess.CompletedProcess (text)
    skopeo_copy(src, dst, registry=None) -> CompletedProcess  (TLS verify off, creds from registry)
    oci_layout_blobs(layout_dir) -> {digest: bytes}

Every path is resolved from this file's location, never from the current directory.
"""
from __future__ import annotations

import copy
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import signal
import socket
import ssl
import subprocess
import tarfile
import time
import http.client
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("BERTH_BIN_DIR") or (REPO_ROOT / ".build" / "debug"))
if not BIN_DIR.is_absolute():
    BIN_DIR = (REPO_ROOT / BIN_DIR).resolve()
BERTH_BIN = BIN_DIR / "berth-registry"
DISTRIBUTION_BIN = Path(os.environ.get("DISTRIBUTION_BIN", "/usr/bin/docker-registry"))
BUSYBOX = Path("/bin/busybox")
IMPLEMENTATIONS = ("berth", "distribution")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def registry_impl() -> str:
    impl = os.environ.get("E2E_REGISTRY", "berth").strip().lower() or "berth"
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"E2E_REGISTRY must be one of {IMPLEMENTATIONS}, not {impl!r}")
    return impl


def binary_for(impl: str) -> Path:
    return BERTH_BIN if impl == "berth" else DISTRIBUTION_BIN


def implementation_available(impl: str) -> tuple[bool, str]:
    path = binary_for(impl)
    if path.is_file() and os.access(path, os.X_OK):
        return True, ""
    hint = f" (build it: cd {REPO_ROOT} && swift build --product berth-registry)" if impl == "berth" else ""
    return False, f"{impl} binary not found at {path}{hint}"


def _deep_merge(base: dict, extra: Mapping) -> dict:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def make_self_signed_cert(directory: Path, hosts: Iterable[str] = ("127.0.0.1", "localhost")) -> tuple[Path, Path]:
    """A self-signed server certificate (its own CA) and key, PEM, via the openssl CLI."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    san = ",".join(("IP:" if h.replace(".", "").isdigit() or ":" in h else "DNS:") + h for h in hosts)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=berth-e2e", "-addext", f"subjectAltName={san}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def write_htpasswd(path: Path, users: Mapping[str, str]) -> Path:
    """bcrypt htpasswd file (htpasswd -B if installed, else libxcrypt through the crypt module)."""
    lines = []
    for user, password in users.items():
        if shutil.which("htpasswd"):
            out = subprocess.run(["htpasswd", "-nbB", "-C", "5", user, password], check=True,
                                 capture_output=True, text=True).stdout.strip()
            lines.append(out)
        else:
            import crypt  # noqa: deprecated but present in 3.11; libxcrypt does bcrypt
            lines.append(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))}")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


class RegistryProcess:
    """One registry server (berth-registry or Distribution) on a loopback port with its own root.

    workdir   directory for config.yml, root/, server.log, TLS material (created if missing)
    impl      "berth" or "distribution"; default from E2E_REGISTRY (default "berth")
    tls       False; True (generate a self-signed cert for 127.0.0.1/localhost); or (cert, key)
    htpasswd  None; a path to an existing bcrypt htpasswd file; or {user: password}
    client_cert  None or (cert, key): presented by the readiness probe and session() (for a
              server with http.tls.clientcas; put clientcas itself in extra_config)
    extra_config  dict deep-merged into the generated config (e.g. {"auth": {"token": ...}})
    env       extra environment variables (REGISTRY_* from the caller's env are dropped)
    """

    def __init__(self, workdir, impl: str | None = None, *, port: int | None = None, tls=False,
                 htpasswd=None, delete_enabled: bool = True, extra_config: Mapping | None = None,
                 env: Mapping[str, str] | None = None, ready_timeout: float = 30.0,
                 realm: str = "berth-e2e", client_cert=None):
        self.impl = impl or registry_impl()
        if self.impl not in IMPLEMENTATIONS:
            raise ValueError(f"unknown registry implementation {self.impl!r}")
        self.binary = binary_for(self.impl)
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root_dir = self.workdir / "root"
        self.config_path = self.workdir / "config.yml"
        self.log_path = self.workdir / "server.log"
        self.port = port or free_port()
        self.delete_enabled = delete_enabled
        self.ready_timeout = ready_timeout
        self.extra_env = dict(env or {})
        self.proc: subprocess.Popen | None = None
        self.ca_cert: Path | None = None
        self.cert = self.key = None
        if tls is True:
            self.cert, self.key = make_self_signed_cert(self.workdir / "tls")
            self.ca_cert = self.cert
        elif tls:
            self.cert, self.key = (Path(p).resolve() for p in tls)
            self.ca_cert = self.cert
        self.credentials: tuple[str, str] | None = None
        self.htpasswd_path: Path | None = None
        if isinstance(htpasswd, Mapping):
            self.htpasswd_path = write_htpasswd(self.workdir / "htpasswd", htpasswd)
            self.credentials = next(iter(htpasswd.items()), None)
        elif htpasswd:
            self.htpasswd_path = Path(htpasswd).resolve()
        self.realm = realm
        self.client_cert = tuple(str(Path(p).resolve()) for p in client_cert) if client_cert else None
        self.config = self._make_config(extra_config or {})

    # ----- addresses
    @property
    def scheme(self) -> str:
        return "https" if self.cert else "http"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def ref(self, repo: str, tag_or_digest: str = "latest") -> str:
        sep = "@" if tag_or_digest.startswith("sha256:") else ":"
        return f"docker://{self.host}/{repo}{sep}{tag_or_digest}"

    def session(self):
        """requests.Session for this registry (CA pinned for TLS, basic auth if htpasswd users)."""
        import requests
        s = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE/proxies from the environment: they would override s.verify.
        s.trust_env = False
        if self.ca_cert:
            s.verify = str(self.ca_cert)
        if self.credentials:
            s.auth = self.credentials
        if self.client_cert:
            s.cert = self.client_cert
        return s

    # ----- config
    def _make_config(self, extra: Mapping) -> dict:
        config = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.root_dir)},
                "delete": {"enabled": bool(self.delete_enabled)},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            # A fixed secret: Distribution signs upload state with it (needed across restarts).
            "http": {"addr": self.host, "secret": "berth-e2e-upload-state-secret"},
        }
        if self.impl == "distribution":
            config["health"] = {"storagedriver": {"enabled": False}}
        if self.cert:
            config["http"]["tls"] = {"certificate": str(self.cert), "key": str(self.key)}
        if self.htpasswd_path:
            config["auth"] = {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd_path)}}
        return _deep_merge(config, extra)

    def write_config(self) -> Path:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return self.config_path

    # ----- lifecycle
    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "RegistryProcess":
        if self.is_running():
            return self
        ok, why = implementation_available(self.impl)
        if not ok:
            raise RuntimeError(why)
        self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(self.extra_env)
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== harness: starting {self.impl} {self.binary} on {self.host} at {time.ctime()}\n".encode())
            log.flush()
            self.proc = subprocess.Popen([str(self.binary), "serve", str(self.config_path)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         cwd=str(self.workdir))
        self._wait_ready()
        return self

    def _probe(self) -> int:
        if self.cert:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if self.client_cert:
                ctx.load_cert_chain(*self.client_cert)
            conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=ctx)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/v2/")
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.impl} exited with {self.proc.returncode} during start-up\n{self.log_tail()}")
            try:
                status = self._probe()
                if status in (200, 401):
                    return
                last = f"GET /v2/ -> {status}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        self._force_kill()
        raise RuntimeError(f"{self.impl} not ready on {self.host} after {self.ready_timeout}s ({last})\n{self.log_tail()}")

    def _force_kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop (SIGTERM). Raises RuntimeError if the server ignored it for `timeout` s."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._force_kill()
                raise RuntimeError(f"{self.impl} ignored SIGTERM for {timeout}s; killed\n{self.log_tail()}")
        return self.proc.returncode

    def kill9(self) -> None:
        """SIGKILL: no chance to clean up (crash simulation)."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self, graceful: bool = True) -> "RegistryProcess":
        """Stop (SIGTERM, or nothing if already dead) and start again: same root dir and port."""
        if graceful:
            self.stop()
        else:
            self.kill9()
        deadline = time.monotonic() + 10
        while True:  # the port may linger briefly after exit
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"(no log at {self.log_path})"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"---- last {lines} lines of {self.log_path} ----\n{tail}"

    def close(self):
        """Teardown helper: stop gracefully, fall back to SIGKILL without raising."""
        try:
            self.stop()
        except Exception:
            self._force_kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return f"RegistryProcess({self.impl}, {self.url}, root={self.root_dir})"


# ----- test images

@dataclass
class ImageInfo:
    """What make_busybox_oci_layout wrote."""
    layout_dir: Path
    tag: str
    manifest_digest: str
    manifest: bytes
    config_digest: str
    config: bytes
    layers: list = field(default_factory=list)     # [(digest, compressed bytes, diff_id)]
    blobs: dict = field(default_factory=dict)      # digest -> bytes (config, layers, manifest)


def _tar_layer(entries: Iterable[tuple]) -> bytes:
    """Deterministic tar from (name, kind, payload) with kind in file|dir|symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, payload
                tar.addfile(info)
            else:
                data, mode = payload if isinstance(payload, tuple) else (payload, 0o644)
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _goarch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def make_busybox_oci_layout(dest_dir, tag: str = "latest",
                            extra_layers: Iterable[Mapping[str, bytes]] = ()) -> ImageInfo:
    """Write an OCI image layout (oci-layout, index.json, blobs/sha256/*) at dest_dir.

    Layer 1: bin/busybox (from the busybox-static package) plus symlinks bin/sh, ls, cat, echo,
    true, env. Each item of extra_layers is {path_in_layer: file bytes} and becomes one more gzip
    layer. The config has the right diff_ids and rootfs; Cmd is ["/bin/sh"]. Everything is
    deterministic (mtime 0, root owner), so the same inputs give the same digests.
    Use it with skopeo as f"oci:{dest_dir}:{tag}".
    """
    dest = Path(dest_dir)
    blobs_dir = dest / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        d = sha256_digest(data)
        (blobs_dir / d.split(":", 1)[1]).write_bytes(data)
        blobs[d] = data
        return d

    entries = [("bin", "dir", None), ("bin/busybox", "file", (BUSYBOX.read_bytes(), 0o755))]
    entries += [(f"bin/{n}", "symlink", "busybox") for n in ("sh", "ls", "cat", "echo", "true", "env")]
    layer_specs = [entries]
    for extra in extra_layers:
        items, dirs = [], set()
        for path, data in extra.items():
            path = path.lstrip("/")
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    items.append((d, "dir", None))
            items.append((path, "file", data))
        layer_specs.append(items)

    layers = []
    for spec in layer_specs:
        raw = _tar_layer(spec)
        gz = gzip.compress(raw, compresslevel=6, mtime=0)
        layers.append((put(gz), gz, sha256_digest(raw)))

    config = json.dumps({
        "created": "1970-01-01T00:00:00Z",
        "architecture": _goarch(), "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff for _, _, diff in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "berth e2e harness"} for _ in layers],
    }, separators=(",", ":")).encode()
    config_digest = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": len(gz)} for d, gz, _ in layers],
    }, separators=(",", ":")).encode()
    manifest_digest = put(manifest)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
        "platform": {"architecture": _goarch(), "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (dest / "index.json").write_text(json.dumps(index))
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return ImageInfo(dest, tag, manifest_digest, manifest, config_digest, config, layers, blobs)


def oci_layout_blobs(layout_dir) -> dict:
    """{digest: bytes} of every blob in an OCI layout directory (verifies nothing)."""
    d = Path(layout_dir) / "blobs" / "sha256"
    return {"sha256:" + p.name: p.read_bytes() for p in sorted(d.iterdir())} if d.is_dir() else {}


# ----- skopeo

def skopeo(*args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run skopeo with the given arguments; on failure with check=True raise with its stderr."""
    cmd = ["skopeo", *[str(a) for a in args]]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {res.returncode}\nstdout: {res.stdout[-2000:]}\n"
                           f"stderr: {res.stderr[-4000:]}")
    return res


def skopeo_copy(src: str, dst: str, registry: RegistryProcess | None = None, *extra, check=True,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """skopeo copy with TLS verification off on docker:// ends and basic-auth creds of `registry`."""
    args = ["--insecure-policy", "copy"]
    for side, ref in (("src", src), ("dest", dst)):
        if ref.startswith("docker://"):
            args.append(f"--{side}-tls-verify=false")
            if registry is not None and registry.credentials:
                args.append(f"--{side}-creds={registry.credentials[0]}:{registry.credentials[1]}")
    return skopeo(*args, *extra, src, dst, check=check, timeout=timeout)

"""One registry server for a test: berth-registry or CNCF Distribution, on a loopback port with
its own root directory, config.yml and log.

    reg = RegistryProcess(workdir, impl=None, tls=False, htpasswd=None, delete_enabled=True,
                          extra_config=None, env=None, ready_timeout=30, hostname="127.0.0.1")
    reg.start()                # writes config.yml, starts, waits for GET /v2/ -> 200 or 401
    reg.url                    # "http://127.0.0.1:PORT" (https:// with TLS)
    reg.host                   # "HOSTNAME:PORT" (for image references)
    reg.ref("repo", "tag")     # "docker://HOSTNAME:PORT/repo:tag"
    reg.session()              # requests.Session: CA verification and basic auth preset
    reg.config                 # the config as a dict; change it, then restart() to apply
    reg.root_dir, reg.config_path, reg.log_path, reg.ca_cert, reg.credentials, reg.pid, reg.impl
    reg.stop() / kill9() / restart() / close() / log_tail() / log_since_start()   (programs.ServerProcess)
    with RegistryProcess(...) as reg: ...     # start() / close()

The same class runs both implementations from the same kind of config, which is what lets a test
be proven right against Distribution. With E2E_BACKEND=s3-postgres, berth's blobs go to the
suite's S3 bucket and its metadata to a PostgreSQL database of its own (scripts/test.sh runs the
protocol, conformance, skopeo and fault suites that way too).
"""
from __future__ import annotations

import copy
import http.client
import os
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Mapping

import yaml

from backend_support import create_database, env_file, s3_storage
from certs import make_certs
from programs import BERTH_REGISTRY, DISTRIBUTION_BIN, REPO_ROOT, ServerProcess, is_executable

IMPLEMENTATIONS = ("berth", "distribution")


def registry_impl() -> str:
    """The implementation the suite runs against: env E2E_REGISTRY, default berth."""
    impl = os.environ.get("E2E_REGISTRY", "berth").strip().lower() or "berth"
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"E2E_REGISTRY must be one of {IMPLEMENTATIONS}, not {impl!r}")
    return impl


def binary_for(impl: str) -> Path:
    return BERTH_REGISTRY if impl == "berth" else DISTRIBUTION_BIN


def implementation_available(impl: str) -> tuple[bool, str]:
    path = binary_for(impl)
    if is_executable(path):
        return True, ""
    hint = f" (build it: cd {REPO_ROOT} && swift build --product berth-registry)" if impl == "berth" else ""
    return False, f"{impl} binary not found at {path}{hint}"


def registry_kinds() -> list:
    """Distribution always; berth when its binary is built and has a `serve` command
    (a placeholder build without one is left out)."""
    kinds = ["distribution"]
    if is_executable(BERTH_REGISTRY):
        try:
            help_text = subprocess.run([str(BERTH_REGISTRY), "--help"], capture_output=True, text=True,
                                       timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            help_text = ""
        if "serve" in help_text:
            kinds.append("berth")
    return kinds


def deep_merge(base: dict, extra: Mapping) -> dict:
    """Merge `extra` into `base` (nested dicts key by key; anything else replaced); returns base."""
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


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


class RegistryProcess(ServerProcess):
    """One registry server (berth-registry or Distribution) on a loopback port with its own root.

    workdir   directory for config.yml, root/, server.log, TLS material (created if missing)
    impl      "berth" or "distribution"; default from E2E_REGISTRY (default "berth")
    tls       False; True (certificates from certs-example/make-certs.sh); or (cert, key)
    htpasswd  None; a path to an existing bcrypt htpasswd file; or {user: password}
    client_cert  None or (cert, key): presented by the readiness probe and session() (for a
              server with http.tls.clientcas; put clientcas itself in extra_config)
    extra_config  dict deep-merged into the generated config (e.g. {"auth": {"token": ...}})
    env       extra environment variables (REGISTRY_* from the caller's env are dropped)
    hostname  the name in host/ref() (the server always listens on 127.0.0.1)
    ready_path  the path the readiness probe GETs (an http.prefix moves /v2/)
    """

    def __init__(self, workdir, impl: str | None = None, *, port: int | None = None, tls=False,
                 htpasswd=None, delete_enabled: bool = True, extra_config: Mapping | None = None,
                 env: Mapping[str, str] | None = None, ready_timeout: float = 30.0,
                 realm: str = "berth-e2e", client_cert=None, hostname: str = "127.0.0.1",
                 ready_path: str = "/v2/"):
        impl = impl or registry_impl()
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"unknown registry implementation {impl!r}")
        super().__init__(workdir, port=port, ready_timeout=ready_timeout)
        self.impl = self.name = impl
        self.binary = binary_for(impl)
        self.root_dir = self.workdir / "root"
        self.config_path = self.workdir / "config.yml"
        self.delete_enabled = delete_enabled
        self.extra_env = dict(env or {})
        self.hostname = hostname
        self.ready_path = ready_path
        self.ca_cert: Path | None = None
        self.cert = self.key = None
        if tls is True:
            made = make_certs(self.workdir / "tls")
            self.cert, self.key, self.ca_cert = made.server_cert, made.server_key, made.ca
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
        self._last_status = None

    # ----- addresses
    @property
    def scheme(self) -> str:
        return "https" if self.cert else "http"

    @property
    def host(self) -> str:
        return f"{self.hostname}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

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
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "berth-e2e-upload-state-secret"},
        }
        if self.impl == "distribution":
            config["health"] = {"storagedriver": {"enabled": False}}
        if self.impl == "berth" and os.environ.get("E2E_BACKEND") == "s3-postgres":
            self._use_s3_and_postgres(config)
        if self.cert:
            config["http"]["tls"] = {"certificate": str(self.cert), "key": str(self.key)}
        if self.htpasswd_path:
            config["auth"] = {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd_path)}}
        return deep_merge(config, extra)

    def _use_s3_and_postgres(self, config: dict) -> None:
        """E2E_BACKEND=s3-postgres: blobs in the suite's S3 bucket under a prefix of this
        registry's own, metadata in a database of its own on the suite's PostgreSQL (their env
        files named by BERTH_TEST_S3_ENV and BERTH_TEST_POSTGRES_ENV, as scripts/test.sh sets)."""
        database = create_database("e2e")
        del config["storage"]["filesystem"]
        config["storage"]["s3"] = s3_storage(env_file("BERTH_TEST_S3_ENV"), database["dbname"])
        config["storage"]["redirect"] = {"disable": True}
        config["database"] = database

    def write_config(self) -> Path:
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        return self.config_path

    # ----- ServerProcess
    def prepare(self):
        ok, why = implementation_available(self.impl)
        if not ok:
            raise RuntimeError(why)
        self.write_config()

    def argv(self):
        return [str(self.binary), "serve", str(self.config_path)]

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        env.update(self.extra_env)
        return env

    def status(self, path: str) -> int:
        """Status of GET `path` (TLS without verification, the client certificate if any)."""
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
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    def probe(self) -> bool:
        self._last_status = self.status(self.ready_path)
        return self._last_status in (200, 401)

    def not_ready_reason(self) -> str:
        return f"GET {self.ready_path} -> {self._last_status}"

    def __repr__(self):
        return f"RegistryProcess({self.impl}, {self.url}, root={self.root_dir})"


class MutualTLSRegistry(RegistryProcess):
    """A registry with http.tls.clientcas: [certs.ca]; its probe and session() present the
    certificate pair's client certificate and trust its CA."""

    def __init__(self, workdir, impl, certs, **kwargs):
        extra = kwargs.pop("extra_config", {}) or {}
        extra = {**extra, "http": {**extra.get("http", {}), "tls": {"clientcas": [str(certs.ca)]}}}
        super().__init__(workdir, impl, tls=(certs.server_cert, certs.server_key), extra_config=extra,
                         client_cert=(certs.client_cert, certs.client_key), **kwargs)
        self.ca_cert = certs.ca
        self.certs = certs

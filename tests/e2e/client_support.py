"""Helpers for the berth client end-to-end tests: real registries on loopback, a token
service, OCI layouts built from local files, and a runner for the berth binary."""

import base64
import datetime
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BERTH = os.environ.get("BERTH", str(REPO_ROOT / ".build" / "debug" / "berth"))
BERTH_BIN_DIR = os.environ.get("BERTH_BIN_DIR", str(REPO_ROOT / ".build" / "debug"))
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, proc=None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


def registry_kinds() -> list:
    """Distribution always; berth-registry when its binary is built and has a `serve` command
    (a placeholder build without one is skipped)."""
    kinds = ["distribution"]
    program = os.path.join(BERTH_BIN_DIR, "berth-registry")
    if os.access(program, os.X_OK):
        try:
            help_text = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            help_text = ""
        if "serve" in help_text:
            kinds.append("berth-registry")
    return kinds


class Registry:
    """A registry process (Distribution 2.8 or berth-registry) with the same config file."""

    def __init__(self, workdir: Path, kind: str = "distribution", htpasswd: dict | None = None,
                 token: "TokenServer | None" = None, tls: tuple | None = None):
        self.kind = kind
        self.port = free_port()
        self.dir = workdir / f"registry-{self.port}"
        self.dir.mkdir(parents=True)
        config = {
            "version": 0.1,
            "log": {"level": "error", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.dir / "data")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "berth-e2e"},
        }
        if htpasswd:
            lines = []
            for user, password in htpasswd.items():
                out = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                     capture_output=True, text=True).stdout.strip()
                lines.append(out)
            (self.dir / "htpasswd").write_text("\n".join(lines) + "\n")
            config["auth"] = {"htpasswd": {"realm": "berth-e2e", "path": str(self.dir / "htpasswd")}}
        if token:
            config["auth"] = {"token": {"realm": token.realm, "service": token.service,
                                        "issuer": token.issuer, "rootcertbundle": str(token.cert_path)}}
        if tls:
            config["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
        self.config_path = self.dir / "config.yml"
        self.config_path.write_text(json.dumps(config))  # JSON is YAML
        program = "docker-registry" if kind == "distribution" else os.path.join(BERTH_BIN_DIR, "berth-registry")
        self.log = open(self.dir / "log", "w")
        self.proc = subprocess.Popen([program, "serve", str(self.config_path)], stdout=self.log, stderr=self.log)
        wait_for_port(self.port, proc=self.proc)

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Berth:
    """Runs the berth binary with its own store and Docker config directory."""

    def __init__(self, workdir: Path, name: str = "berth"):
        self.root = workdir / f"{name}-store"
        self.docker_config = workdir / f"{name}-docker"
        self.docker_config.mkdir(parents=True, exist_ok=True)
        self.extra_env: dict = {}

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({"BERTH_ROOT": str(self.root), "DOCKER_CONFIG": str(self.docker_config)})
        env.update(self.extra_env)
        return env

    def run(self, *args, input: str | None = None, check: bool = True, timeout: float = 300):
        proc = subprocess.run([BERTH, *args], env=self.env(), input=input, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def popen(self, *args):
        return subprocess.Popen([BERTH, *args], env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def index(self) -> dict:
        return json.loads((self.root / "index.json").read_text())

    def verify_store(self) -> None:
        """Every blob in the store hashes to its name."""
        for blob in (self.root / "blobs" / "sha256").iterdir():
            assert sha256_file(blob) == blob.name, f"corrupt blob {blob}"


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def skopeo(*args, check=True):
    proc = subprocess.run(["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed:\n{proc.stderr}")
    return proc


# ---- OCI layouts built in Python ------------------------------------------------------------

class LayoutWriter:
    """Writes an OCI image layout directory from in-memory or on-disk layer files."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.entries = []

    def add_bytes(self, data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def add_file(self, src: Path, media_type: str) -> dict:
        digest = sha256_file(src)
        dest = self.path / "blobs" / "sha256" / digest
        shutil.move(str(src), dest)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": dest.stat().st_size}

    def add_image(self, layers: list, arch: str = "amd64", diff_ids: list | None = None) -> dict:
        """layers: descriptors already added; returns the manifest descriptor."""
        config = {
            "architecture": arch, "os": "linux",
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids or [l["digest"] for l in layers]},
        }
        cfg = self.add_bytes(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": layers}
        desc = self.add_bytes(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        desc["platform"] = {"architecture": arch, "os": "linux"}
        return desc

    def add_index(self, manifests: list) -> dict:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
        return self.add_bytes(json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json")

    def tag(self, desc: dict, tag: str) -> None:
        entry = {k: v for k, v in desc.items() if k != "platform"}
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.entries.append(entry)
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.entries}))


def busybox_layer(extra: bytes = b"") -> tuple:
    """A gzip tar holding bin/busybox (and an extra file); returns (gz bytes, diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        if extra:
            info = tarfile.TarInfo("etc/extra")
            info.size = len(extra)
            tar.addfile(info, io.BytesIO(extra))
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_layout(path: Path, tag: str = "latest", arch: str = "amd64") -> dict:
    layout = LayoutWriter(path)
    gz, diff = busybox_layer(arch.encode())
    layer = layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
    desc = layout.add_image([layer], arch=arch, diff_ids=[diff])
    layout.tag(desc, tag)
    return desc


def multiarch_layout(path: Path, tag: str = "multi") -> tuple:
    layout = LayoutWriter(path)
    manifests = []
    for arch in ("amd64", "arm64"):
        gz, diff = busybox_layer(arch.encode())
        layer = layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
        manifests.append(layout.add_image([layer], arch=arch, diff_ids=[diff]))
    index = layout.add_index(manifests)
    layout.tag(index, tag)
    return index, manifests


def random_layers_layout(path: Path, sizes: list, tag: str = "big") -> dict:
    """Layers of random bytes (as uncompressed-tar media type; content is opaque to registries)."""
    layout = LayoutWriter(path)
    tmp = path / "tmp-layer"
    layers = []
    for size in sizes:
        with open(tmp, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 8 << 20)
                f.write(os.urandom(n))
                left -= n
        layers.append(layout.add_file(tmp, "application/vnd.oci.image.layer.v1.tar"))
    desc = layout.add_image(layers)
    layout.tag(desc, tag)
    return desc


# ---- Docker token auth service (RS256 JWTs with an x5c chain Distribution accepts) ----------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A minimal Docker token service. `users` maps user -> (password, actions granted);
    `refresh_tokens` records every refresh token issued (POST grant_type=password)."""

    def __init__(self, workdir: Path, users: dict):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.users = users
        self.service = "berth-e2e-registry"
        self.issuer = "berth-e2e-issuer"
        self.requests = []  # (method, grant_type or None, scopes, user)
        self.refresh_tokens = {}
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-e2e-token")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = workdir / "token-cert.pem"
        self.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._hashes, self._padding = hashes, __import__(
            "cryptography.hazmat.primitives.asymmetric.padding", fromlist=["PKCS1v15"])

        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                user = server.check_basic(self.headers.get("Authorization"))
                if user is False:
                    return self.reply(401, {"details": "bad credentials"})
                scopes = query.get("scope", [])
                server.requests.append(("GET", None, scopes, user))
                self.reply(200, {"token": server.issue(user, scopes), "expires_in": 300})

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                grant = form.get("grant_type", [""])[0]
                scopes = " ".join(form.get("scope", [])).split()
                if grant == "password":
                    user = form.get("username", [""])[0]
                    entry = server.users.get(user)
                    if not entry or entry[0] != form.get("password", [""])[0]:
                        return self.reply(401, {"details": "bad credentials"})
                    refresh = uuid.uuid4().hex
                    server.refresh_tokens[refresh] = user
                    server.requests.append(("POST", grant, scopes, user))
                    return self.reply(200, {"access_token": server.issue(user, scopes),
                                            "refresh_token": refresh, "expires_in": 300})
                if grant == "refresh_token":
                    user = server.refresh_tokens.get(form.get("refresh_token", [""])[0])
                    if user is None:
                        return self.reply(401, {"details": "bad refresh token"})
                    server.requests.append(("POST", grant, scopes, user))
                    return self.reply(200, {"access_token": server.issue(user, scopes), "expires_in": 300})
                self.reply(400, {"details": "unsupported grant"})

            def reply(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def check_basic(self, header):
        """None for anonymous, the user name when valid, False when wrong."""
        if not header:
            return None
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        entry = self.users.get(user)
        return user if entry and entry[0] == password else False

    def issue(self, user, scopes) -> str:
        granted_actions = set(self.users[user][1]) if user else set()
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            kind, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            allowed = [a for a in actions if a in granted_actions or "*" in granted_actions]
            if allowed:
                access.append({"type": kind, "name": name, "actions": allowed})
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": user or "", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode(), self._padding.PKCS1v15(), self._hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def stop(self):
        self.httpd.shutdown()


def self_signed_server_cert(workdir: Path, hostname: str) -> tuple:
    """A CA and a server certificate for `hostname`; returns (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "berth-e2e-ca")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (workdir / "ca.pem", workdir / "server.pem", workdir / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths

"""A minimal Docker token service (RS256 JWTs with an x5c chain Distribution accepts) that
records what it was asked, for the client tests' bearer-token flows against any registry."""
import base64
import datetime
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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

    def registry_auth(self) -> dict:
        """The registry config (auth.token) that sends clients to this service."""
        return {"auth": {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                                   "rootcertbundle": str(self.cert_path)}}}

    def stop(self):
        self.httpd.shutdown()

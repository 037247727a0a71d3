"""A minimal raw HTTP client for protocol tests, and a berth-registry process that can be
stopped, killed with SIGKILL and restarted on the same port and root."""
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from test_registry_smoke import BERTH, free_port


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def error_code(self):
        return self.json()["errors"][0]["code"]


class Registry:
    """berth-registry on a free loopback port with its own root directory."""

    def __init__(self, tmp: Path, delete=True, extra=""):
        self.tmp, self.port = tmp, free_port()
        self.config = tmp / "config.yml"
        self.config.write_text(
            f"version: 0.1\nlog: {{level: info}}\nstorage:\n  filesystem: {{rootdirectory: {tmp / 'root'}}}\n"
            f"  delete: {{enabled: {str(delete).lower()}}}\nhttp: {{addr: 127.0.0.1:{self.port}}}\n{extra}")
        self.proc = None
        self.start()

    def start(self):
        log = open(self.tmp / "server.log", "a")
        self.proc = subprocess.Popen([str(BERTH), "serve", str(self.config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, (self.tmp / "server.log").read_text()[-3000:]
            try:
                if self.request("GET", "/v2/").status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("registry did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def restart(self):
        self.stop()
        self.start()

    def request(self, method, path, body=None, headers=None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def raw(self, data: bytes, close_after=True, read=True):
        """Sends raw bytes; returns what came back (possibly nothing)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            sock.sendall(data)
            if close_after:
                sock.shutdown(socket.SHUT_WR)
            if not read:
                return b""
            chunks = []
            while True:
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            sock.close()

    # Protocol helpers.
    def push_blob(self, name, data: bytes) -> str:
        digest = sha256(data)
        reply = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
                             {"Content-Type": "application/octet-stream"})
        assert reply.status == 201, reply.body
        return digest

    def start_upload(self, name) -> str:
        reply = self.request("POST", f"/v2/{name}/blobs/uploads/")
        assert reply.status == 202, reply.body
        return reply.header("Location")

    def push_image(self, name, tag, layers=(b"layer",), media_type="application/vnd.oci.image.manifest.v1+json", extra=None):
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cdigest = self.push_blob(name, config)
        descriptors = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": self.push_blob(name, l), "size": len(l)}
                       for l in layers]
        manifest = {"schemaVersion": 2, "mediaType": media_type,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": len(config)},
                    "layers": descriptors}
        manifest.update(extra or {})
        body = json.dumps(manifest).encode()
        reply = self.request("PUT", f"/v2/{name}/manifests/{tag}", body, {"Content-Type": media_type})
        assert reply.status == 201, reply.body
        assert reply.header("Docker-Content-Digest") == sha256(body)
        return sha256(body), body

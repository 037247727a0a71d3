"""berth-registry with a raw HTTP client bound to it, for the protocol, fault, config and memory
tests: requests go out exactly as written (registry_http.raw) and the server can be stopped,
killed with SIGKILL and restarted on the same port and root."""
import json
import socket
from pathlib import Path

from images import OCI_CONFIG, OCI_MANIFEST, sha256_digest
from registry_http import Reply, raw
from registry_process import RegistryProcess


class BerthRegistry(RegistryProcess):
    """berth-registry on a free loopback port with its own root directory (tmp/root), started at once."""

    def __init__(self, tmp: Path, delete=True, **kwargs):
        super().__init__(tmp, "berth", delete_enabled=delete, **kwargs)
        self.start()

    def request(self, method, path, body=None, headers=None) -> Reply:
        return raw(self, method, path, body, headers)

    def send_bytes(self, data: bytes, close_after=True, read=True):
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
        digest = sha256_digest(data)
        reply = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", data,
                             {"Content-Type": "application/octet-stream"})
        assert reply.status == 201, reply.body
        return digest

    def start_upload(self, name) -> str:
        reply = self.request("POST", f"/v2/{name}/blobs/uploads/")
        assert reply.status == 202, reply.body
        return reply.header("Location")

    def push_image(self, name, tag, layers=(b"layer",), media_type=OCI_MANIFEST, extra=None):
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cdigest = self.push_blob(name, config)
        descriptors = [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": self.push_blob(name, l), "size": len(l)}
                       for l in layers]
        manifest = {"schemaVersion": 2, "mediaType": media_type,
                    "config": {"mediaType": OCI_CONFIG, "digest": cdigest, "size": len(config)},
                    "layers": descriptors}
        manifest.update(extra or {})
        body = json.dumps(manifest).encode()
        reply = self.request("PUT", f"/v2/{name}/manifests/{tag}", body, {"Content-Type": media_type})
        assert reply.status == 201, reply.body
        assert reply.header("Docker-Content-Digest") == sha256_digest(body)
        return sha256_digest(body), body

"""berth-registry when its S3 endpoint goes away: a request that needs S3 gets a clean 5xx in the
registry's error format, the upload stays resumable, and once the endpoint is back the client
carries on where the registry says it stands.

The S3 server is the suite's real RADOS Gateway; between it and the registry sits a small TCP
forwarder that the test can stop (refusing connections and cutting the open ones) and start
again on the same port, as an endpoint that goes down and comes back. The gateway itself is
shared by the whole suite and is never stopped.
"""
from __future__ import annotations

import os
import socket
import threading
import uuid

from backend_support import MiB, s3  # noqa: F401  (s3 is a fixture)
from images import sha256_digest
from programs import free_port
from registry_http import OCTET, patch_ok, raw, start_upload, upload_range_end, with_query
from test_s3_storage import s3_registry


class Forwarder:
    """Forwards 127.0.0.1:port to target; stop() refuses and cuts connections, start() resumes."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "Forwarder":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener:
            listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(256 * 1024):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def test_an_endpoint_that_goes_away_mid_upload_gives_5xx_and_the_upload_resumes(tmp_path, s3):
    host, port = s3["S3_ENDPOINT"].removeprefix("http://").split(":")
    forwarder = Forwarder((host, int(port))).start()
    via = {**s3, "S3_ENDPOINT": f"http://127.0.0.1:{forwarder.port}"}
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    try:
        with s3_registry(tmp_path / "node", via, prefix, tmp_path / "metadata.sqlite", redirect=False) as reg:
            data = os.urandom(13 * MiB + 5)
            digest = sha256_digest(data)
            location = patch_ok(reg, start_upload(reg, "app/flaky"), data[:6 * MiB], 0)

            forwarder.stop()
            failed = raw(reg, "PATCH", location, data[6 * MiB:10 * MiB],
                         {**OCTET, "Content-Range": f"{6 * MiB}-{10 * MiB - 1}"}, timeout=120)
            assert 500 <= failed.status < 600, failed
            assert failed.json()["errors"][0]["code"], failed
            refused = raw(reg, "PUT", with_query(location, digest=digest), data[6 * MiB:], OCTET, timeout=120)
            assert 500 <= refused.status < 600, refused
            assert raw(reg, "HEAD", f"/v2/app/flaky/blobs/{digest}").status in (404, 500, 503)

            # Back again: the session stands where it was acknowledged, and the client goes on.
            forwarder.start()
            acknowledged = upload_range_end(reg, location)
            assert acknowledged == 6 * MiB, acknowledged
            location = patch_ok(reg, location, data[acknowledged:10 * MiB], acknowledged)
            done = raw(reg, "PUT", with_query(location, digest=digest), data[10 * MiB:], OCTET, timeout=120)
            assert done.status == 201, done
            assert raw(reg, "GET", f"/v2/app/flaky/blobs/{digest}", timeout=120).body == data
    finally:
        forwarder.stop()

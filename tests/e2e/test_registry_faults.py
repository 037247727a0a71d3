"""Faults: uploads cut off mid-stream, restarts, and kill -9 in the middle of a push.

Nothing committed may be lost and nothing partial may become visible; an upload is resumable
from what was acknowledged, or cleanly unknown."""
import hashlib
import json
import os
import socket
import threading
import time

from images import sha256_digest
from registry_client import BerthRegistry


def test_cut_off_chunk_leaves_the_upload_as_it_was(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        data = os.urandom(300_000)
        location = reg.start_upload("faults/cut")
        assert reg.request("PATCH", location, data[:100_000], {"Content-Range": "0-99999"}).status == 202
        # Announce 200,000 bytes, send 50,000, hang up.
        head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Range: 100000-299999\r\nContent-Length: 200000\r\n\r\n").encode()
        reg.send_bytes(head + data[100_000:150_000], close_after=True, read=False)
        time.sleep(0.5)
        status = reg.request("GET", location)
        assert status.status == 204 and status.header("Range") == "0-99999"
        assert reg.request("PATCH", location, data[100_000:], {"Content-Range": "100000-299999"}).status == 202
        assert reg.request("PUT", f"{location}?digest={sha256_digest(data)}").status == 201
        assert reg.request("GET", f"/v2/faults/cut/blobs/{sha256_digest(data)}").body == data
    finally:
        reg.stop()


def test_cut_off_monolithic_upload_stores_nothing(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        data = os.urandom(100_000)
        head = (f"POST /v2/faults/mono/blobs/uploads/?digest={sha256_digest(data)} HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        reg.send_bytes(head + data[:40_000], close_after=True, read=False)
        time.sleep(0.5)
        assert reg.request("HEAD", f"/v2/faults/mono/blobs/{sha256_digest(data)}").status == 404
        blobs = tmp_path / "root" / "docker/registry/v2/blobs"
        assert not list(blobs.rglob("data")), "no blob file appeared"
    finally:
        reg.stop()


def test_upload_session_survives_a_restart(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        data = os.urandom(200_000)
        location = reg.start_upload("faults/restart")
        assert reg.request("PATCH", location, data[:120_000], {"Content-Range": "0-119999"}).status == 202
        reg.restart()
        assert reg.request("GET", location).header("Range") == "0-119999"
        assert reg.request("PATCH", location, data[120_000:], {"Content-Range": "120000-199999"}).status == 202
        assert reg.request("PUT", f"{location}?digest={sha256_digest(data)}").status == 201
        assert hashlib.sha256(reg.request("GET", f"/v2/faults/restart/blobs/{sha256_digest(data)}").body).hexdigest() == sha256_digest(data)[7:]
    finally:
        reg.stop()


def test_kill_9_during_a_push_loses_nothing_committed_and_shows_nothing_partial(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        committed = {}
        for i in range(3):
            digest, body = reg.push_image("faults/kill", f"v{i}", layers=(os.urandom(50_000), os.urandom(70_000)))
            committed[f"v{i}"] = (digest, body)
        # An upload session with one acknowledged chunk, then a large chunk streaming when the kill comes.
        big = os.urandom(8 * 1024 * 1024)
        location = reg.start_upload("faults/kill")
        assert reg.request("PATCH", location, big[:1_000_000], {"Content-Range": "0-999999"}).status == 202
        monolithic = os.urandom(4 * 1024 * 1024)

        def stream(path, payload, extra=""):
            try:
                sock = socket.create_connection(("127.0.0.1", reg.port), timeout=10)
                sock.sendall((f"{path} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {len(payload)}\r\n\r\n").encode())
                for offset in range(0, len(payload), 65536):
                    sock.sendall(payload[offset:offset + 65536])
                    time.sleep(0.01)
            except OSError:
                pass

        threads = [
            threading.Thread(target=stream, args=(f"PATCH {location}", big[1_000_000:], f"Content-Range: 1000000-{len(big) - 1}\r\n")),
            threading.Thread(target=stream, args=(f"POST /v2/faults/kill/blobs/uploads/?digest={sha256_digest(monolithic)}", monolithic)),
        ]
        for t in threads:
            t.start()
        time.sleep(0.3)
        reg.kill9()
        for t in threads:
            t.join(timeout=30)
        reg.start()

        # Every committed image is still there, byte for byte.
        for tag, (digest, body) in committed.items():
            reply = reg.request("GET", f"/v2/faults/kill/manifests/{tag}")
            assert reply.status == 200 and reply.body == body
            for layer in json.loads(body)["layers"]:
                blob = reg.request("GET", f"/v2/faults/kill/blobs/{layer['digest']}").body
                assert sha256_digest(blob) == layer["digest"]
        # Nothing partial is visible.
        assert reg.request("HEAD", f"/v2/faults/kill/blobs/{sha256_digest(monolithic)}").status == 404
        assert reg.request("HEAD", f"/v2/faults/kill/blobs/{sha256_digest(big)}").status == 404
        # The session resumes from what was acknowledged before the kill.
        status = reg.request("GET", location)
        assert status.status == 204
        acknowledged = int(status.header("Range").split("-")[1]) + 1
        assert acknowledged in (1_000_000, len(big))
        if acknowledged < len(big):
            rest = reg.request("PATCH", location, big[acknowledged:], {"Content-Range": f"{acknowledged}-{len(big) - 1}"})
            assert rest.status == 202
        assert reg.request("PUT", f"{location}?digest={sha256_digest(big)}").status == 201
        assert sha256_digest(reg.request("GET", f"/v2/faults/kill/blobs/{sha256_digest(big)}").body) == sha256_digest(big)
    finally:
        reg.stop()


def test_concurrent_uploads_of_the_same_blob(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        data = os.urandom(2 * 1024 * 1024)
        results = []

        def push(i):
            results.append(reg.request("POST", f"/v2/faults/same{i}/blobs/uploads/?digest={sha256_digest(data)}", data).status)

        threads = [threading.Thread(target=push, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == [201] * 6
        for i in range(6):
            assert reg.request("GET", f"/v2/faults/same{i}/blobs/{sha256_digest(data)}").body == data
    finally:
        reg.stop()

"""With `http.sendfile: true`, blob bodies on plain HTTP go out with sendfile(2) (docs/architecture.md): whole and
ranged GETs arrive byte for byte and strace sees the sendfile calls; a client that leaves in the
middle of one costs the server nothing it keeps (no descriptor left open) and the next GET works;
over TLS the same GETs are served, encrypted in user space.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time

from certs import make_certs
from images import sha256_digest
from polling import wait_until
from registry_http import push_blob, raw
from registry_process import RegistryProcess

MiB = 1024 * 1024
SENDFILE = {"http": {"sendfile": True}}


def open_descriptors(reg) -> int:
    return len(os.listdir(f"/proc/{reg.proc.pid}/fd"))


def sendfile_bytes(trace: str) -> int:
    """The bytes the traced sendfile calls reported sent."""
    return sum(int(m) for m in re.findall(r"sendfile\(.*\)\s+=\s+(\d+)", trace))


def test_whole_and_ranged_blob_gets_go_out_with_sendfile(tmp_path):
    with RegistryProcess(tmp_path / "registry", "berth", extra_config=SENDFILE) as reg:
        data = os.urandom(21 * MiB + 17)
        digest = push_blob(reg, "send/file", data)
        trace_path = tmp_path / "strace.out"
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-e", "trace=sendfile", "-o", str(trace_path),
                                   "-p", str(reg.proc.pid)], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)  # attached to every thread
            whole = raw(reg, "GET", f"/v2/send/file/blobs/{digest}", timeout=120)
            assert whole.status == 200 and whole.body == data
            start, end = 5 * MiB - 3, 13 * MiB + 2
            part = raw(reg, "GET", f"/v2/send/file/blobs/{digest}", headers={"Range": f"bytes={start}-{end}"},
                       timeout=120)
            assert part.status == 206 and part.body == data[start:end + 1]
            assert part.header("content-range") == f"bytes {start}-{end}/{len(data)}"
            tail = raw(reg, "GET", f"/v2/send/file/blobs/{digest}", headers={"Range": "bytes=-5"})
            assert tail.status == 206 and tail.body == data[-5:]
        finally:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
        # Every byte of the three bodies left by sendfile.
        assert sendfile_bytes(trace_path.read_text()) == len(data) + (end + 1 - start) + 5


def test_a_client_leaving_mid_sendfile_leaves_nothing_open(tmp_path):
    with RegistryProcess(tmp_path / "registry", "berth", extra_config=SENDFILE) as reg:
        data = os.urandom(64 * MiB)
        digest = push_blob(reg, "send/leave", data)
        assert raw(reg, "GET", f"/v2/send/leave/blobs/{digest}", timeout=120).body == data
        baseline = open_descriptors(reg)
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", reg.port), timeout=30)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(f"GET /v2/send/leave/blobs/{digest} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            received = 0
            while received < 2 * MiB:
                received += len(sock.recv(256 * 1024))
            sock.close()
        wait_until(lambda: open_descriptors(reg) <= baseline, 30, "the blob files and sockets to be closed",
                   detail=lambda: f"{open_descriptors(reg)} open, {baseline} before")
        assert raw(reg, "GET", f"/v2/send/leave/blobs/{digest}", timeout=120).body == data


def test_over_tls_blob_gets_are_served_without_sendfile(tmp_path):
    certs = make_certs(tmp_path / "certs")
    reg = RegistryProcess(tmp_path / "registry", "berth", tls=(certs.server_cert, certs.server_key), hostname="localhost",
                          extra_config=SENDFILE)
    reg.ca_cert = certs.ca
    with reg:
        session = reg.session()
        data = os.urandom(9 * MiB + 1)
        digest = sha256_digest(data)
        pushed = session.post(f"{reg.url}/v2/send/tls/blobs/uploads/?digest={digest}", data=data,
                              headers={"Content-Type": "application/octet-stream"}, timeout=120)
        assert pushed.status_code == 201, pushed.text
        part = session.get(f"{reg.url}/v2/send/tls/blobs/{digest}", headers={"Range": "bytes=100-"}, timeout=120)
        assert part.status_code == 206 and part.content == data[100:]
        whole = session.get(f"{reg.url}/v2/send/tls/blobs/{digest}", timeout=120)
        assert whole.status_code == 200 and whole.content == data

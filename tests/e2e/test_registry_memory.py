"""Memory stays flat in the size of what flows through: a 1 GiB blob is streamed in and out
without the server's peak RSS growing by more than a few MiB."""
import hashlib
import http.client
import re

from registry_client import BerthRegistry

MiB = 1024 * 1024


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024


def test_one_gib_push_and_pull_keep_memory_flat(tmp_path):
    reg = BerthRegistry(tmp_path)
    try:
        block = bytes(range(256)) * (4 * MiB // 256)
        total = 256 * len(block)  # 1 GiB
        digest = hashlib.sha256()
        for _ in range(256):
            digest.update(block)
        digest = "sha256:" + digest.hexdigest()
        # Warm up (first requests allocate pools), then take the baseline.
        reg.push_blob("memory/app", b"warm-up" * 10000)
        baseline = peak_rss_mib(reg.proc.pid)

        def body():
            for _ in range(256):
                yield block

        conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=300)
        conn.request("POST", f"/v2/memory/app/blobs/uploads/?digest={digest}", body=body(),
                     headers={"Content-Length": str(total), "Content-Type": "application/octet-stream"})
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 201
        push_growth = peak_rss_mib(reg.proc.pid) - baseline
        conn.request("GET", f"/v2/memory/app/blobs/{digest}")
        reply = conn.getresponse()
        received = 0
        while chunk := reply.read(4 * MiB):
            received += len(chunk)
        conn.close()
        assert received == total
        growth = peak_rss_mib(reg.proc.pid) - baseline
        print(f"peak RSS growth: push of 1 GiB {push_growth:.1f} MiB, push and pull {growth:.1f} MiB")
        # Uploads stream through one buffer at a time; downloads keep a bounded queue of buffers
        # (NIO back-pressure) and malloc arenas per thread, which does not grow with the size.
        assert push_growth < 16, f"peak RSS grew by {push_growth:.1f} MiB while pushing 1 GiB"
        assert growth < 64, f"peak RSS grew by {growth:.1f} MiB while streaming 1 GiB in and out"
    finally:
        reg.stop()

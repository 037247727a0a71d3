"""Measures berth-registry and Distribution in one run and prints a markdown table with ratios.

Both servers get equivalent configs (filesystem storage in a temp dir, deletes on, no auth) on
loopback. Every figure is the median of a few repetitions; the machine is shared, so compare the
ratio column, not the absolute numbers.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

MiB = 1024 * 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, command, workdir):
        self.name, self.port = name, free_port()
        root = os.path.join(workdir, name)
        config = os.path.join(workdir, f"{name}.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {root}}}\n"
                    f"  delete: {{enabled: true}}\nhttp: {{addr: 127.0.0.1:{self.port}}}\n")
        self.proc = subprocess.Popen(command + ["serve", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                if self.request("GET", "/v2/")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def start_upload(self, repo):
        status, headers, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, status
        loc = headers["location"]
        return loc if loc.startswith("http") else self.url(loc)

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def curl(*args):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", *args],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), float(out[1])


def with_query(url, query):
    return url + ("&" if "?" in url else "?") + query


def push_monolithic(server, repo, path, digest):
    location = server.start_upload(repo)
    status, seconds = curl("-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", path,
                           with_query(location, f"digest={digest}"))
    assert status == 201, status
    return seconds


def push_chunked(server, repo, chunks, digest):
    location = server.start_upload(repo)
    start = time.perf_counter()
    offset = 0
    for chunk in chunks:
        size = os.path.getsize(chunk)
        out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-X", "PATCH", "-H", "Content-Type: application/octet-stream",
                              "-H", f"Content-Range: {offset}-{offset + size - 1}", "-T", chunk, location],
                             check=True, capture_output=True, text=True).stdout
        assert re.search(r"(?m)^HTTP/1.1 202", out), out
        loc = re.search(r"(?im)^location:\s*(\S+)", out).group(1)
        location = loc if loc.startswith("http") else server.url(loc)
        offset += size
    status, _ = curl("-X", "PUT", with_query(location, f"digest={digest}"))
    assert status == 201, status
    return time.perf_counter() - start


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-c32", "-t2", f"-d{seconds}s", "--latency",
                          "-H", "Accept: application/vnd.oci.image.manifest.v1+json", url],
                         check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    value, unit = float(p99.group(1)), p99.group(2)
    p99_ms = value * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, out
    return rps, p99_ms


def push_image(server, repo, tag):
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = os.urandom(1024)
    descriptors = []
    for blob in (config, layer):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        status, _, _ = server.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}", blob)
        if status != 201:  # Distribution 2.8 needs POST then PUT
            loc = server.start_upload(repo)
            loc = loc[len(server.url("")):]
            status, _, _ = server.request("PUT", with_query(loc, f"digest={digest}"), blob)
        assert status == 201
        descriptors.append({"digest": digest, "size": len(blob)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **descriptors[0]},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **descriptors[1]}]}).encode()
    status, _, _ = server.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest,
                                  {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert status == 201
    return manifest


def tag_puts(server, repo, manifest, count):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    start = time.perf_counter()
    for i in range(count):
        conn.request("PUT", f"/v2/{repo}/manifests/t{i:05d}", body=manifest,
                     headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        r = conn.getresponse()
        r.read()
        assert r.status == 201, r.status
    elapsed = time.perf_counter() - start
    start = time.perf_counter()
    conn.request("GET", f"/v2/{repo}/tags/list")
    r = conn.getresponse()
    tags = json.loads(r.read())["tags"]
    list_ms = (time.perf_counter() - start) * 1000
    conn.close()
    assert len(tags) >= count
    return elapsed, list_ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--berth", default=".build/release/berth-registry")
    parser.add_argument("--distribution", default="/usr/bin/docker-registry")
    parser.add_argument("--quick", action="store_true", help="smaller blobs, fewer repetitions")
    args = parser.parse_args()
    blob_mib = 64 if args.quick else 256
    reps = 1 if args.quick else 3
    wrk_seconds = 3 if args.quick else 10

    work = tempfile.mkdtemp(prefix="berth-bench-")
    servers = []
    try:
        servers = [Server("berth", [os.path.abspath(args.berth)], work), Server("distribution", [args.distribution], work)]
        blob = os.path.join(work, "blob")
        with open(blob, "wb") as f:
            for _ in range(blob_mib):
                f.write(os.urandom(MiB))
        digest = "sha256:" + hashlib.sha256(open(blob, "rb").read()).hexdigest()
        chunks = []
        with open(blob, "rb") as f:
            for i in range(blob_mib // 16):
                path = os.path.join(work, f"chunk{i}")
                with open(path, "wb") as c:
                    c.write(f.read(16 * MiB))
                chunks.append(path)
        small = os.path.join(work, "small")
        with open(small, "wb") as f:
            f.write(os.urandom(32 * MiB))
        small_digest = "sha256:" + hashlib.sha256(open(small, "rb").read()).hexdigest()

        rows = {}
        for server in servers:
            r = {}
            mono = [push_monolithic(server, f"bench/mono{i}", blob, digest) for i in range(reps)]
            r["push monolithic (MB/s)"] = blob_mib * MiB / 1e6 / statistics.median(mono)
            chunked = [push_chunked(server, f"bench/chunked{i}", chunks, digest) for i in range(reps)]
            r["push chunked, 16 MiB (MB/s)"] = blob_mib * MiB / 1e6 / statistics.median(chunked)
            pulls = [curl(server.url(f"/v2/bench/mono0/blobs/{digest}"))[1] for _ in range(reps + 2)]
            r["pull (MB/s)"] = blob_mib * MiB / 1e6 / statistics.median(pulls)
            start = time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda i: push_monolithic(server, f"bench/par{i}", small, small_digest), range(8)))
            r["8 parallel pushes, 32 MiB each (MB/s)"] = 8 * 32 * MiB / 1e6 / (time.perf_counter() - start)
            manifest = push_image(server, "bench/app", "latest")
            rps, p99 = wrk(server.url("/v2/bench/app/manifests/latest"), wrk_seconds)
            r["manifest GET by tag (req/s)"] = rps
            r["manifest GET p99 (ms, lower is better)"] = p99
            manifest = push_image(server, "bench/tags", "base")
            puts, list_ms = tag_puts(server, "bench/tags", manifest, 1000)
            r["1,000 tag PUTs (s, lower is better)"] = puts
            r["list 1,000 tags (ms, lower is better)"] = list_ms
            r["peak RSS (MiB, lower is better)"] = server.peak_rss_mib()
            rows[server.name] = r

        print(f"\nberth-registry vs Distribution 2.8.2 ({blob_mib} MiB blobs, median of {reps})\n")
        print("| measure | berth | distribution | berth advantage |")
        print("|---|---:|---:|---:|")
        for key in rows["berth"]:
            b, d = rows["berth"][key], rows["distribution"][key]
            lower_better = "lower is better" in key
            ratio = (d / b) if lower_better else (b / d)
            print(f"| {key} | {b:,.1f} | {d:,.1f} | {ratio:.2f}x |")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

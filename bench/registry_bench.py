"""berth-registry vs CNCF Distribution 2.8.2, measured side by side in one run.

Both servers get the same config (filesystem storage in a temp dir, deletes on, no auth, access
log off) on 127.0.0.1. Measures, each taken on both servers in alternating order so load drift on
the (shared, 2-core) machine hits both alike:

  push monolithic     POST, then PUT ?digest= with the whole blob as the body (curl -T)
  push chunked        POST, PATCH 16 MiB chunks with Content-Range on one connection, PUT ?digest=
  pull                GET of the blob (curl -o /dev/null); content verified once beforehand
  parallel push       8 concurrent monolithic pushes of distinct 32 MiB blobs, aggregate MB/s
  manifest GET        wrk -c32 -t2 -d10s --latency by tag with an OCI Accept header: req/s and p99
  small pushes        400 distinct 4 KiB blobs, 8 threads, each POST then PUT ?digest= (blobs/s)
  concurrent tags     1,000 manifest PUTs under new tags from 8 keep-alive connections at once (PUTs/s)
  tag PUTs            1,000 manifest PUTs under new tags on one keep-alive connection; tags/list
  peak RSS            VmHWM of each server process at the end

Every pushed blob is distinct (os.urandom content, a different digest per repetition), so no server
can skip work because it already holds the blob. Figures are the median of the repetitions
(--stat best: the best run, which is less sensitive to other load on the machine).
Everything lives in one temp dir that is removed at the end; both servers are always stopped.
"""
import argparse
import hashlib
import http.client
import json
import mmap
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

MiB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CURL_TIMEOUT = 300   # seconds, per transfer
GOALS = {  # measure -> minimum berth/distribution ratio (the project's targets on this machine)
    "manifest GET by tag (req/s)": 10.0,
    "push monolithic (MB/s)": 2.5,
    "push chunked, 16 MiB chunks (MB/s)": 2.5,
    "pull (MB/s)": 1.5,
    "4 KiB blob pushes, 8 threads (blobs/s)": 5.0,
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name, binary, workdir):
        self.name, self.binary, self.port = name, binary, free_port()
        self.root = os.path.join(workdir, f"root-{name}")
        self.config = os.path.join(workdir, f"{name}.yml")
        with open(self.config, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.root}\n  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: berth-bench-secret\n")
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.proc = None
        self.ready_status = 200  # what GET /v2/ answers once serving (401 with auth enabled)

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([self.binary, "serve", self.config], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{open(self.log_path).read()[-3000:]}")
            try:
                if self.request("GET", "/v2/")[0] == self.ready_status:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not answer GET /v2/ with {self.ready_status} within 60 s")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def start_upload(self, repo):
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert status == 202, (self.name, "POST upload", status, body[:300])
        loc = headers["location"]
        return loc if loc.startswith("http") else self.url(loc)

    def peak_rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) / 1024

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# ----- test data

class Blob:
    def __init__(self, path, size, digest):
        self.path, self.size, self.digest = path, size, digest


def make_blob(path, size):
    """size random bytes (os.urandom), written and hashed in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            block = os.urandom(min(8 * MiB, size - written))
            f.write(block)
            h.update(block)
            written += len(block)
    return Blob(path, size, "sha256:" + h.hexdigest())


# ----- operations

def curl(*args):
    out = subprocess.run(["curl", "-sS", "--max-time", str(CURL_TIMEOUT), "-o", "/dev/null",
                          "-w", "%{http_code} %{time_total} %{size_download}", *args],
                         check=True, capture_output=True, text=True, timeout=CURL_TIMEOUT + 10).stdout.split()
    return int(out[0]), float(out[1]), int(out[2])


def with_query(url, query):
    return url + ("&" if "?" in url else "?") + query


def push_monolithic(server, repo, blob):
    start = time.perf_counter()
    location = server.start_upload(repo)
    status, _, _ = curl("-X", "PUT", "-H", "Content-Type: application/octet-stream", "-T", blob.path,
                        with_query(location, f"digest={blob.digest}"))
    assert status == 201, (server.name, "monolithic PUT", status)
    return time.perf_counter() - start


def push_chunked(server, repo, blob, chunk_size):
    """POST, PATCH chunk_size pieces (Content-Range, one keep-alive connection, bodies straight from
    an mmap of the file so the client adds no copies), PUT ?digest=. Checks Range after each PATCH."""
    with open(blob.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        view = memoryview(data)
        try:
            start = time.perf_counter()
            location = server.start_upload(repo)
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=CURL_TIMEOUT)
            offset = 0
            while offset < blob.size:
                end = min(offset + chunk_size, blob.size)
                path = location[len(server.url("")):] if location.startswith("http") else location
                conn.request("PATCH", path, body=view[offset:end],
                             headers={"Content-Type": "application/octet-stream",
                                      "Content-Range": f"{offset}-{end - 1}", "Content-Length": str(end - offset)})
                r = conn.getresponse()
                body = r.read()
                assert r.status == 202, (server.name, "PATCH", r.status, body[:300])
                assert r.getheader("Range") == f"0-{end - 1}", (server.name, "PATCH Range", r.getheader("Range"))
                location = r.getheader("Location")
                offset = end
            path = location[len(server.url("")):] if location.startswith("http") else location
            conn.request("PUT", with_query(path, f"digest={blob.digest}"), headers={"Content-Length": "0"})
            r = conn.getresponse()
            body = r.read()
            assert r.status == 201, (server.name, "chunked PUT", r.status, body[:300])
            elapsed = time.perf_counter() - start
            conn.close()
            return elapsed
        finally:
            view.release()


def verify_pull(server, repo, blob):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("GET", f"/v2/{repo}/blobs/{blob.digest}")
    r = conn.getresponse()
    assert r.status == 200, (server.name, "GET blob", r.status)
    h, n = hashlib.sha256(), 0
    while True:
        data = r.read(4 * MiB)
        if not data:
            break
        h.update(data)
        n += len(data)
    conn.close()
    assert n == blob.size and "sha256:" + h.hexdigest() == blob.digest, (server.name, "pulled bytes differ")


def pull(server, repo, blob):
    status, seconds, size = curl(server.url(f"/v2/{repo}/blobs/{blob.digest}"))
    assert status == 200 and size == blob.size, (server.name, "GET blob", status, size)
    return seconds


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-c32", "-t2", f"-d{seconds}s", "--latency", "--timeout", "5s",
                          "-H", f"Accept: {OCI_MANIFEST}", url],
                         check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert bad is None, f"wrk got errors:\n{out}"
    errors = re.search(r"Socket errors: (.*)", out)
    return rps, p99_ms, (errors.group(1) if errors else "")


def upload_small(server, repo, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = server.start_upload(repo)
    path = location[len(server.url("")):]
    status, _, body = server.request("PUT", with_query(path, f"digest={digest}"), data,
                                     {"Content-Type": "application/octet-stream"})
    assert status == 201, (server.name, "PUT blob", status, body[:300])
    return digest


def push_image(server, repo, tag):
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}}).encode()
    layer = os.urandom(2048)
    config_digest, layer_digest = upload_small(server, repo, config), upload_small(server, repo, layer)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                   "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                    "size": len(layer)}]}).encode()
    status, _, body = server.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": OCI_MANIFEST})
    assert status == 201, (server.name, "PUT manifest", status, body[:300])
    return manifest


def concurrent_tag_puts(server, repo, manifest, threads=8, each=125):
    """threads keep-alive connections PUT the manifest under new tags at once; PUTs/s."""
    def worker(index):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        try:
            for i in range(each):
                conn.request("PUT", f"/v2/{repo}/manifests/w{index}-{i:04d}", body=manifest,
                             headers={"Content-Type": OCI_MANIFEST})
                r = conn.getresponse()
                body = r.read()
                assert r.status == 201, (server.name, "tag PUT", r.status, body[:300])
        finally:
            conn.close()
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return threads * each / (time.perf_counter() - start)


def tag_puts(server, repo, manifest, count):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    start = time.perf_counter()
    for i in range(count):
        conn.request("PUT", f"/v2/{repo}/manifests/t{i:05d}", body=manifest, headers={"Content-Type": OCI_MANIFEST})
        r = conn.getresponse()
        body = r.read()
        assert r.status == 201, (server.name, "tag PUT", r.status, body[:300])
    elapsed = time.perf_counter() - start
    times = []
    for _ in range(5):
        start = time.perf_counter()
        conn.request("GET", f"/v2/{repo}/tags/list")
        r = conn.getresponse()
        tags = json.loads(r.read())["tags"]
        times.append(time.perf_counter() - start)
        assert r.status == 200 and len(tags) == count + 1, (server.name, "tags/list", r.status, len(tags))
    conn.close()
    return elapsed, statistics.median(times) * 1000


# ----- the run

def alternate(servers, rep):
    return servers if rep % 2 == 0 else list(reversed(servers))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release",
                                                        "berth-registry"))
    parser.add_argument("--distribution", default="/usr/bin/docker-registry")
    parser.add_argument("--baseline", help="another berth-registry binary (e.g. a build of the previous commit) "
                                           "measured in the same run: adds a berth/baseline column")
    parser.add_argument("--quick", action="store_true", help="64 MiB blobs, 1 repetition, 3 s wrk runs")
    parser.add_argument("--blob-mib", type=int, help="size of the big blob (default 256, 64 with --quick)")
    parser.add_argument("--reps", type=int, help="repetitions of each transfer (default 3, 1 with --quick)")
    parser.add_argument("--wrk-seconds", type=int, help="duration of each wrk run (default 10, 3 with --quick)")
    parser.add_argument("--stat", choices=("median", "best"), default="median",
                        help="how repetitions are summarised (best = fastest run; default median)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    blob_mib = args.blob_mib or (64 if args.quick else 256)
    reps = args.reps or (1 if args.quick else 3)
    wrk_seconds = args.wrk_seconds or (3 if args.quick else 10)
    chunk = 16 * MiB
    for tool in ("curl", "wrk"):
        if not shutil.which(tool):
            sys.exit(f"registry_bench: {tool} is not installed (scripts/install-deps.sh)")
    binaries = {"berth": os.path.abspath(args.berth), "distribution": args.distribution}
    if args.baseline:
        binaries["baseline"] = os.path.abspath(args.baseline)
    for name, path in binaries.items():
        if not os.access(path, os.X_OK):
            sys.exit(f"registry_bench: {name} binary {path} is missing or not executable")

    work = tempfile.mkdtemp(prefix="berth-bench-")
    servers = []
    load_before = os.getloadavg()
    results = {name: {} for name in binaries}
    notes = []
    try:
        log(f"test data in {work} ({blob_mib} MiB blobs, {reps} repetitions)")
        mono = [make_blob(os.path.join(work, f"mono{r}"), blob_mib * MiB) for r in range(reps)]
        chunked = [make_blob(os.path.join(work, f"chunked{r}"), blob_mib * MiB) for r in range(reps)]
        par = [[make_blob(os.path.join(work, f"par{r}-{i}"), 32 * MiB) for i in range(8)]
               for r in range(reps)]
        # Gigabytes of test data were just written: let them reach the disk, or whichever server
        # pushes first competes with their writeback.
        os.sync()
        time.sleep(2)

        for name, path in binaries.items():
            servers.append(Server(name, path, work))   # listed before start: always stopped
            servers[-1].start()

        def record(measure, server, value):
            results[server.name].setdefault(measure, []).append(value)

        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] push monolithic {r + 1}/{reps}")
                os.sync()  # each push starts with no other server's writeback pending
                record("push monolithic (MB/s)", s, mono[r].size / 1e6 / push_monolithic(s, f"bench/mono{r}", mono[r]))
        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] push chunked {r + 1}/{reps}")
                os.sync()
                blob = chunked[r]
                record("push chunked, 16 MiB chunks (MB/s)", s,
                       blob.size / 1e6 / push_chunked(s, f"bench/chunked{r}", blob, chunk))
        for s in servers:
            verify_pull(s, "bench/mono0", mono[0])
            pull(s, "bench/mono0", mono[0])  # warm
        for r in range(max(reps, 3) + 2):
            for s in alternate(servers, r):
                record("pull (MB/s)", s, mono[0].size / 1e6 / pull(s, "bench/mono0", mono[0]))
        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] 8 parallel pushes {r + 1}/{reps}")
                start = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda i: push_monolithic(s, f"bench/par{r}-{i}", par[r][i]), range(8)))
                record("8 parallel pushes of 32 MiB (MB/s aggregate)", s,
                       8 * 32 * MiB / 1e6 / (time.perf_counter() - start))
        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] 4 KiB blob pushes, 8 threads {r + 1}/{reps}")
                blobs = [os.urandom(4096) for _ in range(400)]
                start = time.perf_counter()
                with ThreadPoolExecutor(8) as pool:
                    list(pool.map(lambda i: upload_small(s, f"bench/small{r}-{i % 8}", blobs[i]), range(len(blobs))))
                record("4 KiB blob pushes, 8 threads (blobs/s)", s, len(blobs) / (time.perf_counter() - start))
        for s in servers:
            push_image(s, "bench/app", "latest")
            wrk(s.url("/v2/bench/app/manifests/latest"), 2)  # warm-up
        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] wrk {wrk_seconds} s {r + 1}/{reps}")
                rps, p99, errors = wrk(s.url("/v2/bench/app/manifests/latest"), wrk_seconds)
                record("manifest GET by tag (req/s)", s, rps)
                record("manifest GET p99 latency (ms, lower is better)", s, p99)
                if errors:
                    notes.append(f"{s.name} wrk socket errors: {errors}")
        for s in servers:
            log(f"[{s.name}] 1,000 tag PUTs")
            manifest = push_image(s, "bench/tags", "base")
            puts, list_ms = tag_puts(s, "bench/tags", manifest, 1000)
            record("1,000 tag PUTs (s, lower is better)", s, puts)
            record("list 1,001 tags (ms, lower is better)", s, list_ms)
        for r in range(reps):
            for s in alternate(servers, r):
                log(f"[{s.name}] 1,000 tag PUTs from 8 threads {r + 1}/{reps}")
                manifest = push_image(s, f"bench/ctags{r}", "base")
                record("1,000 tag PUTs, 8 threads (PUTs/s)", s, concurrent_tag_puts(s, f"bench/ctags{r}", manifest))
        for s in servers:
            record("peak RSS (MiB, lower is better)", s, s.peak_rss_mib())
    except BaseException:
        for s in servers:
            log(f"---- {s.name} log tail ----")
            try:
                log(open(s.log_path, errors="replace").read()[-3000:])
            except OSError:
                pass
        raise
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)

    def pick(measure, values):
        if args.stat == "median":
            return statistics.median(values)
        return min(values) if "lower is better" in measure else max(values)

    table = {}
    for measure in results["berth"]:
        b = pick(measure, results["berth"][measure])
        d = pick(measure, results["distribution"][measure])
        table[measure] = {"berth": b, "distribution": d, "ratio": b / d if d else float("inf")}
        if args.baseline:
            base = pick(measure, results["baseline"][measure])
            table[measure].update(baseline=base, baseline_ratio=b / base if base else float("inf"))

    load_after = os.getloadavg()
    print(f"\n## berth-registry vs CNCF Distribution 2.8.2\n")
    print(f"{blob_mib} MiB blobs, {args.stat} of {reps} runs ({max(reps, 3) + 2} for pulls); "
          f"wrk -c32 -t2 -d{wrk_seconds}s; "
          f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
          "Ratio = berth / distribution (for lower-is-better rows, below 1 means berth is better).\n")
    extra_head = " baseline | berth/baseline |" if args.baseline else ""
    print(f"| measure | berth | distribution | berth/distribution | goal |{extra_head}")
    print("|---|---:|---:|---:|---|" + ("---:|---:|" if args.baseline else ""))
    missed = []
    for measure, row in table.items():
        goal = GOALS.get(measure)
        verdict = ""
        if goal:
            ok = row["ratio"] >= goal
            verdict = f"≥{goal:g}x {'met' if ok else 'MISSED'}"
            if not ok:
                missed.append(measure)
        extra = f" {row['baseline']:,.1f} | {row['baseline_ratio']:.2f}x |" if args.baseline else ""
        print(f"| {measure} | {row['berth']:,.1f} | {row['distribution']:,.1f} | {row['ratio']:.2f}x | {verdict} |{extra}")
    for note in notes:
        print(f"\nnote: {note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
                       "cores": os.cpu_count(), "load_before": load_before, "load_after": load_after,
                       "blob_mib": blob_mib, "reps": reps, "stat": args.stat, "wrk_seconds": wrk_seconds,
                       "table": table, "samples": results}, f, indent=2)
    if missed:
        print(f"\ngoals missed: {', '.join(missed)}")


if __name__ == "__main__":
    main()

"""What berth-registry's operations features cost (issue 13), measured side by side in one run.

Two pairs of servers of the same build, each measured in alternating order (which server goes first
flips every repetition) so load drift on the shared 2-core machine hits both alike:

  (1) metrics + access log
      "ops on":  http.debug {addr: 127.0.0.1:<free>, prometheus: {enabled: true}} and
                 log.accesslog.disabled: false (the server's stdout goes to a file)
      "ops off": no http.debug, log.accesslog.disabled: true
      manifest GET by tag, wrk -c32 -t2 --latency with an OCI Accept header (registry_bench.wrk):
      req/s and p99. Goal: ops on loses less than 5% of requests/s (ratio on/off >= 0.95).
      Checked afterwards: /metrics answers with registry_http_* series and the access log has a
      line per request (about as many lines as wrk made requests).

  (2) notifications to a slow endpoint
      "slow endpoint": notifications.endpoints [{name: slow, url: http://127.0.0.1:<port>/e,
                       timeout: 5s, backoff: 100ms, maxbackoff: 1s}]; the receiver (a Python HTTP
                       server in this process) answers each POST after sleeping --receiver-delay (1 s)
      "no endpoint":   no notifications section
      push: --images (5) images per repetition, each --layers (20) distinct --layer-mib (4) MiB layers
      (POST, then PUT ?digest= with the body, --threads (4) at a time, keep-alive connections) plus a
      config blob and a manifest PUT. Reports MB/s, images/s and the median manifest PUT latency.
      Goal: push throughput does not drop (ratio slow/none >= 0.95, the noise allowance). At the
      end the receiver's count of events is reported (how far delivery lagged behind the pushes).

Every layer is distinct (a unique 64-byte prefix on a random 4 MiB block per repetition), so no
server can skip work. Figures are medians of --reps (3) repetitions. Everything lives in one temp
dir that is removed at the end; all servers are always stopped.
--quick: 1 repetition, 3 s wrk runs, 2 images per push repetition (about 30 s).
"""
import argparse
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_bench import OCI_MANIFEST, Server, alternate, free_port, push_image, wrk  # noqa: E402

MiB = 1024 * 1024
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
RPS_GOAL = 0.95    # ops on / ops off, manifest GET req/s
PUSH_GOAL = 0.95   # slow endpoint / no endpoint, push MB/s
STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


class OpsServer(Server):
    """registry_bench's Server with an access log / debug listener / notifications switched on."""

    def __init__(self, name, binary, workdir, access_log=False, debug=False, notify_url=None):
        super().__init__(name, binary, workdir)
        self.debug_port = free_port() if debug else None
        http_debug = (f"  debug:\n    addr: 127.0.0.1:{self.debug_port}\n    prometheus:\n      enabled: true\n"
                      if debug else "")
        notifications = ""
        if notify_url:
            notifications = ("notifications:\n  endpoints:\n"
                             f"    - name: slow\n      url: {notify_url}\n      timeout: 5s\n"
                             "      backoff: 100ms\n      maxbackoff: 1s\n")
        with open(self.config, "w") as f:
            f.write("version: 0.1\n"
                    f"log:\n  level: error\n  accesslog:\n    disabled: {'false' if access_log else 'true'}\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {self.root}\n  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: berth-bench-secret\n" + http_debug
                    + notifications)

    def log_lines(self):
        with open(self.log_path, errors="replace") as f:
            return f.read().splitlines()


def cpu_seconds(server):
    """User + system CPU time the server process has used so far (from /proc/PID/stat)."""
    with open(f"/proc/{server.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_counted(server):
    """The sum of registry_http_requests_total over all its series, from the debug listener."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.debug_port}/metrics", timeout=30) as resp:
        text = resp.read().decode(errors="replace")
    series = [l for l in text.splitlines() if l.startswith("registry_http_requests_total")]
    if not series:
        raise RuntimeError(f"{server.name}: /metrics has no registry_http_requests_total series:\n{text[:2000]}")
    return sum(float(l.rsplit(" ", 1)[1]) for l in series)


class SlowReceiver:
    """An HTTP server that answers every POST with 200 after sleeping `delay` seconds, and keeps
    what it was sent: the number of POSTs and the events (by id) in their envelopes."""

    def __init__(self, delay):
        self.delay, self.posts, self.event_ids, self.actions, self.bad = delay, 0, [], {}, 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.posts += 1
                    try:
                        for event in json.loads(body).get("events", []):
                            receiver.event_ids.append(event.get("id"))
                            key = f"{event.get('action')} {event.get('target', {}).get('mediaType', '?')}"
                            receiver.actions[key] = receiver.actions.get(key, 0) + 1
                    except ValueError:
                        receiver.bad += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/e"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def counts(self):
        with self.lock:
            return self.posts, len(self.event_ids), len(set(self.event_ids))

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ----- push of images with big layers

class Conn:
    """One keep-alive connection to a server, reopened if the server closes it."""

    def __init__(self, server):
        self.server, self.conn = server, None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if (r.getheader("Connection") or "").lower() == "close":
                    self.close()
                return r.status, r.getheader("Location"), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise

    def push_blob(self, repo, data, digest):
        status, location, body = self.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
        assert status == 202, (self.server.name, "POST upload", status, body[:300])
        if location.startswith("http"):
            location = location[len(self.server.url("")):]
        sep = "&" if "?" in location else "?"
        status, _, body = self.request("PUT", f"{location}{sep}digest={digest}", data,
                                       {"Content-Type": "application/octet-stream"})
        assert status == 201, (self.server.name, "PUT blob", status, body[:300])

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def make_images(count, layers, layer_size, tag):
    """`count` images of `layers` distinct layers each: (config, [(layer bytes, digest)])."""
    base = os.urandom(layer_size)
    images = []
    for i in range(count):
        blobs = []
        for k in range(layers):
            data = f"{tag}-{i}-{k}".encode().ljust(64, b".") + base[64:]
            blobs.append((data, "sha256:" + hashlib.sha256(data).hexdigest()))
        config = json.dumps({"architecture": "amd64", "os": "linux", "tag": f"{tag}-{i}"}).encode()
        images.append((config, blobs))
    return images


def push_images(server, repo, images, threads):
    """Pushes the images one after another, each image's layers `threads` at a time; returns the
    elapsed seconds and each manifest PUT's latency."""
    conns = [Conn(server) for _ in range(threads)]
    free = list(conns)
    lock = threading.Lock()

    def push_one(item):
        data, digest = item
        with lock:
            conn = free.pop()
        try:
            conn.push_blob(repo, data, digest)
        finally:
            with lock:
                free.append(conn)

    put_latency = []
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for i, (config, blobs) in enumerate(images):
            list(pool.map(push_one, blobs))
            config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
            conns[0].push_blob(repo, config, config_digest)
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": len(b)} for b, d in blobs]}).encode()
            t0 = time.perf_counter()
            status, _, body = conns[0].request("PUT", f"/v2/{repo}/manifests/i{i}", manifest,
                                               {"Content-Type": OCI_MANIFEST})
            put_latency.append(time.perf_counter() - t0)
            assert status == 201, (server.name, "PUT manifest", status, body[:300])
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    return elapsed, put_latency


# ----- the run

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", default=os.path.join(os.path.dirname(__file__), "..", ".build", "release",
                                                        "berth-registry"))
    parser.add_argument("--quick", action="store_true", help="1 repetition, 3 s wrk runs, 2 images per push")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, 1 with --quick)")
    parser.add_argument("--wrk-seconds", type=int, help="duration of each wrk run (default 10, 3 with --quick)")
    parser.add_argument("--images", type=int, help="images pushed per repetition (default 5, 2 with --quick)")
    parser.add_argument("--layers", type=int, default=20, help="layers per image (default 20)")
    parser.add_argument("--layer-mib", type=int, default=4, help="MiB per layer (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="layers pushed at a time (default 4)")
    parser.add_argument("--receiver-delay", type=float, default=1.0,
                        help="seconds the notification receiver sleeps before answering (default 1)")
    parser.add_argument("--skip", choices=("metrics", "notifications"), action="append", default=[],
                        help="leave out one part")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    wrk_seconds = args.wrk_seconds or (3 if args.quick else 10)
    n_images = args.images or (2 if args.quick else 5)
    layer_size = args.layer_mib * MiB
    if not shutil.which("wrk") and "metrics" not in args.skip:
        sys.exit("operations_bench: wrk is not installed (scripts/install-deps.sh)")
    binary = os.path.abspath(args.berth)
    if not os.access(binary, os.X_OK):
        sys.exit(f"operations_bench: {binary} is missing or not executable")

    work = tempfile.mkdtemp(prefix="berth-ops-bench-")
    servers, receiver = [], None
    load_before = os.getloadavg()
    results = {}
    notes, problems = [], []
    delivery = None

    def record(measure, server, value):
        results.setdefault(server.name, {}).setdefault(measure, []).append(value)

    try:
        # ----- (1) metrics + access log
        if "metrics" not in args.skip:
            pair = [OpsServer("ops on", binary, work, access_log=True, debug=True),
                    OpsServer("ops off", binary, work)]
            servers += pair
            for s in pair:
                s.start()
                push_image(s, "bench/app", "latest")
                wrk(s.url("/v2/bench/app/manifests/latest"), 2)  # warm-up
            lines_before = len(pair[0].log_lines())
            counted_before = requests_counted(pair[0])
            total_requests = 0
            for r in range(reps):
                for s in alternate(pair, r):
                    log(f"[{s.name}] wrk {wrk_seconds} s {r + 1}/{reps}")
                    cpu_before = cpu_seconds(s)
                    rps, p99, errors = wrk(s.url("/v2/bench/app/manifests/latest"), wrk_seconds)
                    cpu_used = cpu_seconds(s) - cpu_before
                    record("manifest GET by tag (req/s)", s, rps)
                    # the server's CPU time per request: what the features cost, less exposed to
                    # how the 2 cores happened to be shared between wrk, the server and the rest
                    record("server CPU per request (µs, lower is better)", s, cpu_used / (rps * wrk_seconds) * 1e6)
                    record("manifest GET p99 (ms, lower is better)", s, p99)
                    if s is pair[0]:
                        total_requests += rps * wrk_seconds
                    if errors:
                        notes.append(f"{s.name} wrk socket errors: {errors}")
            # the checks: metrics are served and count the GETs; the access log has them
            counted = requests_counted(pair[0]) - counted_before
            access = [l for l in pair[0].log_lines()[lines_before:] if '"GET /v2/bench/app/manifests/latest' in l]
            notes.append(f"ops on, during the timed runs: wrk reported ~{total_requests:,.0f} requests, "
                         f"registry_http_requests_total grew by {counted:,.0f}, the access log has {len(access):,} "
                         "manifest GET lines")
            for what, n in (("registry_http_requests_total", counted), ("access log lines", len(access))):
                if n < 0.9 * total_requests:
                    problems.append(f"ops on: {what} {n:,.0f} for ~{total_requests:,.0f} requests")
            other = [l for l in pair[1].log_lines() if "GET /v2/" in l]
            if other:
                problems.append(f"ops off: {len(other)} access log lines although the access log is disabled")
            for s in pair:
                record("peak RSS after wrk (MiB, lower is better)", s, s.peak_rss_mib())
                s.stop()

        # ----- (2) notifications to a slow endpoint
        if "notifications" not in args.skip:
            receiver = SlowReceiver(args.receiver_delay).start()
            pair = [OpsServer("slow endpoint", binary, work, notify_url=receiver.url),
                    OpsServer("no endpoint", binary, work)]
            servers += pair
            for s in pair:
                s.start()
            log(f"making test data: {reps} x {n_images} images of {args.layers} x {args.layer_mib} MiB")
            data = {(r, s.name): make_images(n_images, args.layers, layer_size, f"{r}-{s.name}")
                    for r in range(reps) for s in pair}
            for s in pair:   # warm-up: one small image each
                push_images(s, "bench/warm", make_images(1, 2, 64 * 1024, f"warm-{s.name}"), 2)
            push_bytes = n_images * args.layers * layer_size
            for r in range(reps):
                for s in alternate(pair, r):
                    log(f"[{s.name}] push {n_images} images {r + 1}/{reps}")
                    os.sync()   # no writeback of the other server's pushes pending
                    elapsed, put_latency = push_images(s, f"bench/push{r}", data[(r, s.name)], args.threads)
                    record("push (MB/s)", s, push_bytes / 1e6 / elapsed)
                    record("push (images/s)", s, n_images / elapsed)
                    record("manifest PUT median (ms, lower is better)", s, statistics.median(put_latency) * 1000)
                    del data[(r, s.name)]
            # how far behind delivery is, and how long it takes to catch up
            pushed_done = time.monotonic()
            at_end = receiver.counts()
            expected_min = reps * n_images   # at least one event per manifest
            # settled: no new POST for longer than the receiver takes to answer one (or 60 s passed)
            quiet_needed, last, last_change = 2 * args.receiver_delay + 2, at_end, pushed_done
            while time.monotonic() < pushed_done + 60:
                time.sleep(0.5)
                now = receiver.counts()
                if now != last:
                    last, last_change = now, time.monotonic()
                elif time.monotonic() - last_change > quiet_needed and now[1] >= expected_min:
                    break
            posts, events, unique = receiver.counts()
            delivery = {"posts": posts, "events": events, "unique": unique, "at_end_of_pushes": at_end,
                        "settled_after": last_change - pushed_done, "actions": dict(receiver.actions)}
            notes.append(f"slow endpoint: when the last push finished the receiver had {at_end[1]:,} events in "
                         f"{at_end[0]:,} POSTs; in the end {events:,} events ({unique:,} distinct ids) in {posts:,} "
                         f"POSTs, the last " + (f"{delivery['settled_after']:.1f} s after the last push" if delivery["settled_after"] > 0
                                    else "before the last push finished") + "; by action: "
                         + ", ".join(f"{k}: {v}" for k, v in sorted(receiver.actions.items())))
            if events < expected_min:
                problems.append(f"slow endpoint: only {events} events delivered for {expected_min} manifest pushes")
            if receiver.bad:
                problems.append(f"slow endpoint: {receiver.bad} POST bodies were not JSON")
            for s in pair:
                bad = [l for l in s.log_lines() if re.search(r"\b(error|critical)\b", l, re.I)]
                if bad:
                    notes.append(f"{s.name} log has {len(bad)} error lines, e.g. {bad[0][:200]}")
                record("peak RSS after pushes (MiB, lower is better)", s, s.peak_rss_mib())
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
        if receiver:
            receiver.stop()
        shutil.rmtree(work, ignore_errors=True)

    load_after = os.getloadavg()
    pairs = [("ops on", "ops off", "on/off", RPS_GOAL, "manifest GET by tag (req/s)"),
             ("slow endpoint", "no endpoint", "slow/none", PUSH_GOAL, "push (MB/s)")]
    table = {}
    print(f"\n## berth-registry operations overhead ({os.path.basename(binary)}, {binary})\n")
    print(f"Same binary in each pair, median of {reps} alternating repetitions; {os.cpu_count()} cores; load "
          f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after.\n")
    for a, b, label, goal, goal_measure in pairs:
        if a not in results:
            continue
        if a == "ops on":
            print(f"Metrics + access log: manifest GET by tag, wrk -c32 -t2 -d{wrk_seconds}s.\n")
        else:
            print(f"\nNotifications to an endpoint answering after {args.receiver_delay:g} s: {n_images} images x "
                  f"{args.layers} layers x {args.layer_mib} MiB per repetition, {args.threads} layers at a time.\n")
        print(f"| measure | {a} | {b} | {label} | goal |")
        print("|---|---:|---:|---:|---|")
        for measure in results[a]:
            va, vb = statistics.median(results[a][measure]), statistics.median(results[b][measure])
            ratio = va / vb if vb else float("inf")
            table[f"{a}: {measure}"] = {a: va, b: vb, "ratio": ratio, "samples": [results[a][measure], results[b][measure]]}
            verdict = ""
            if measure == goal_measure:
                verdict = f"≥{goal:g}x {'met' if ratio >= goal else 'MISSED'}"
            print(f"| {measure} | {va:,.1f} | {vb:,.1f} | {ratio:.3f}x | {verdict} |")
        first = next(iter(results[a]))
        print(f"\n{first} per repetition ({a} / {b}): "
              + ", ".join(f"{x:,.1f} / {y:,.1f}" for x, y in zip(results[a][first], results[b][first])))
    for note in notes:
        print(f"\nnote: {note}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "binary": binary,
                       "cores": os.cpu_count(), "load_before": load_before, "load_after": load_after,
                       "reps": reps, "wrk_seconds": wrk_seconds, "table": table, "delivery": delivery,
                       "notes": notes, "problems": problems}, f, indent=2)
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in problems))
        sys.exit(1)


if __name__ == "__main__":
    main()

"""Garbage collection: how fast a sweep is on a big root, and what sweeps every second cost serving.

(a) sweep speed. A berth root is seeded directly (the server started and stopped once to create the
    schema and to push one probe image, then rows written with sqlite3 in the columns the schema
    has, and the blob files written where the server keeps them): --manifests (10,000) image
    manifests over --repos (100) repositories and --blobs (50,000) config/layer blobs, each
    manifest referencing its config, 3 layers of its own and 2 layers of a shared pool. Half the
    manifests are tagged (reachable); a quarter are untagged (removed with --delete-untagged); a
    quarter were deleted by digest (no manifest row; their bytes, layers and links remain, as
    DELETE leaves them). Every timestamp is 0 (long past the delay). Then, timed:
      garbage-collect --dry-run --delete-untagged   (must remove nothing)
      garbage-collect --delete-untagged             (goal: under 10 s)
      garbage-collect --delete-untagged             (again: nothing left to remove)
    and the result is checked: exactly the reachable manifests and their blobs are left, on disk
    and in the blobs and manifests tables.

(b) serving with sweeps. Two servers of the same build on copies of the root (a) left behind:
    one with storage.maintenance.gc {interval 1s, delay 2s, untagged true}, one with gc disabled.
    Measured on both, alternating which goes first, --reps (3) times --seconds (8) each:
      push      4 threads, each image 2 distinct 256 KiB layers + config (POST ?digest=) and a
                manifest PUT under one of 8 tags per thread (so the replaced ones become garbage)
      pull      4 threads GET manifest by tag + its layers
      manifest GET   wrk -c32 -t2 --latency by tag (req/s, p99)
      idle CPU  what each server burns with no client at all (sweeps of the whole root every 1 s)
    and reported as ratios of the medians with / without (goal: manifest GET p99 within 1.5x),
    with the p99 of each repetition. The gc server's sweeps remove the garbage each push phase
    leaves during the pull and GET phases that follow (hundreds of MB), so this is GC at work,
    not idle sweeps.

Binaries: --bin-dir, else $BERTH_BIN_DIR, else .build/release if it holds berth-registry, else
.build/debug. Loopback only; everything lives in one temp dir that is removed at the end (--keep
keeps it). --quick: 2,000 manifests / 10,000 blobs, 3 s phases, 1 repetition (about a minute).
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_bench import OCI_MANIFEST, Server, alternate, wrk  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KiB, MiB = 1024, 1024 * 1024
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
SWEEP_GOAL_SECONDS = 10.0
P99_GOAL_RATIO = 1.5
CLI_SUMMARY = re.compile(r"gc(?: \(dry run\))?: (?:removed|would remove) (\d+) manifests?, (\d+) blobs?, "
                         r"(\d+) bytes?(?: freed)? in ([\d.]+)s")


STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def default_bin_dir():
    if os.environ.get("BERTH_BIN_DIR"):
        return os.environ["BERTH_BIN_DIR"]
    release = os.path.join(REPO_ROOT, ".build", "release")
    if os.access(os.path.join(release, "berth-registry"), os.X_OK):
        return release
    return os.path.join(REPO_ROOT, ".build", "debug")


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class GCServer(Server):
    """registry_bench's Server with its own root and a storage.maintenance.gc section."""

    def __init__(self, name, binary, workdir, root, gc=None, log_level="info"):
        super().__init__(name, binary, workdir)
        self.root = root
        gc_yaml = ""
        if gc is not None:
            gc_yaml = "    gc:\n" + "".join(f"      {k}: {v}\n" for k, v in gc.items())
        with open(self.config, "w") as f:
            f.write("version: 0.1\n"
                    f"log:\n  level: {log_level}\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n" + gc_yaml +
                    f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: berth-bench-secret\n")

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()


def blob_path(root, digest):
    hexd = digest.split(":", 1)[1]
    return os.path.join(root, "docker", "registry", "v2", "blobs", "sha256", hexd[:2], hexd, "data")


def blob_files(root):
    base = os.path.join(root, "docker", "registry", "v2", "blobs", "sha256")
    found = set()
    if os.path.isdir(base):
        for prefix in os.listdir(base):
            for hexd in os.listdir(os.path.join(base, prefix)):
                if os.path.exists(os.path.join(base, prefix, hexd, "data")):
                    found.add("sha256:" + hexd)
    return found


def write_blob(root, digest, data):
    path = blob_path(root, digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# ----- HTTP on one keep-alive connection

class Client:
    def __init__(self, port, timeout=60):
        self.port, self.timeout, self.conn = port, timeout, None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def push_blob(self, repo, data):
        d = sha256(data)
        status, body = self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data,
                                    {"Content-Type": "application/octet-stream"})
        assert status == 201, ("POST ?digest=", repo, status, body[:300])
        return d

    def push_image(self, repo, tag, layers):
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": os.urandom(8).hex()}).encode()
        descs = [{"mediaType": LAYER_TYPE, "digest": self.push_blob(repo, layer), "size": len(layer)} for layer in layers]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": OCI_CONFIG, "digest": self.push_blob(repo, config),
                                          "size": len(config)}, "layers": descs}).encode()
        start = time.perf_counter()
        status, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest, {"Content-Type": OCI_MANIFEST})
        assert status == 201, ("PUT manifest", repo, tag, status, body[:300])
        return manifest, time.perf_counter() - start

    def close(self):
        if self.conn:
            self.conn.close()


# ----- seeding

def table_columns(db):
    tables = {}
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        # cid, name, type, notnull, dflt_value, pk
        tables[name] = [(r[1], (r[2] or "").upper(), bool(r[3]), r[4], r[5]) for r in db.execute(f"PRAGMA table_info({name})")]
    return tables


class Inserter:
    """INSERTs rows given as dicts: keys the table lacks are dropped, NOT NULL columns without a
    default that the row does not give are filled (0 for numbers, '' for text) and reported."""

    def __init__(self, db, tables):
        self.db, self.tables, self.filled = db, tables, {}

    def insert(self, table, rows, or_ignore=False):
        if table not in self.tables:
            raise SystemExit(f"gc_bench: the schema has no table {table!r} (tables: {sorted(self.tables)})")
        rows = list(rows)
        if not rows:
            return
        cols = self.tables[table]
        have = {c[0] for c in cols}
        given = [k for k in rows[0] if k in have]
        fill = {}
        for name, ctype, notnull, default, pk in cols:
            if name in given or not notnull or default is not None or (pk and "INT" in ctype):
                continue
            fill[name] = "" if "TEXT" in ctype or "CHAR" in ctype else 0
        if fill:
            self.filled.setdefault(table, set()).update(fill)
        names = given + list(fill)
        sql = (f"INSERT {'OR IGNORE ' if or_ignore else ''}INTO {table} ({', '.join(names)}) "
               f"VALUES ({', '.join('?' for _ in names)})")
        self.db.executemany(sql, ([row[k] for k in given] + list(fill.values()) for row in rows))


def probe_root(binary, work, root):
    """Start berth on `root` (creating the schema), push one small image, stop. Returns what the
    server wrote for it, so the seeded rows can be shaped alike."""
    server = GCServer("probe", binary, work, root)
    server.start()
    try:
        client = Client(server.port)
        layer = os.urandom(1024)
        manifest, _ = client.push_image("bench/probe", "probe", [layer])
        client.close()
    finally:
        server.stop()
    doc = json.loads(manifest)
    probe = {"manifest": sha256(manifest), "blobs": {doc["config"]["digest"], doc["layers"][0]["digest"]}}
    db = sqlite3.connect(os.path.join(root, "berth", "metadata.sqlite"))
    try:
        tables = table_columns(db)
        if "blobs" not in tables:
            raise SystemExit(f"gc_bench: the schema has no blobs table (tables: {sorted(tables)}); "
                             "is this a build with garbage collection?")
        blob_rows = {r[0] for r in db.execute("SELECT digest FROM blobs")}
        probe["manifest_in_blobs"] = probe["manifest"] in blob_rows
        probe["blob_row"] = dict(zip([c[0] for c in tables["blobs"]],
                                     db.execute("SELECT * FROM blobs WHERE digest = ?", (doc["layers"][0]["digest"],)).fetchone() or ()))
    finally:
        db.close()
    return tables, probe


def seed(binary, work, root, n_manifests, n_blobs, n_repos, rng):
    """Seed `root` (see the module doc). Returns the expected state after a --delete-untagged sweep."""
    started = time.perf_counter()
    tables, probe = probe_root(binary, work, root)
    per_manifest = 4  # config + 3 own layers
    n_pool = n_blobs - per_manifest * n_manifests
    if n_pool < 2:
        raise SystemExit(f"gc_bench: --blobs must exceed 4 x --manifests + 1 ({per_manifest * n_manifests + 1})")

    def new_blob(lo=64, hi=2048):
        data = os.urandom(rng.randint(lo, hi))
        d = sha256(data)
        write_blob(root, d, data)
        return d, len(data)

    sizes = {}
    pool = []
    for _ in range(n_pool):
        d, size = new_blob()
        pool.append(d)
        sizes[d] = size
    repos = [f"bench/r{i:03d}" for i in range(n_repos)]
    manifests = []   # (repo, digest, size, kind, [blob digests])
    for i in range(n_manifests):
        repo = repos[i % n_repos]
        config = json.dumps({"architecture": "amd64", "os": "linux", "i": i, "n": os.urandom(4).hex()}).encode()
        config_digest = sha256(config)
        write_blob(root, config_digest, config)
        sizes[config_digest] = len(config)
        layers = []
        for _ in range(3):
            d, size = new_blob()
            sizes[d] = size
            layers.append(d)
        layers += rng.sample(pool, 2)
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                           "layers": [{"mediaType": LAYER_TYPE, "digest": d, "size": sizes[d]} for d in layers]},
                          separators=(",", ":")).encode()
        digest = sha256(body)
        write_blob(root, digest, body)
        sizes[digest] = len(body)
        kind = ("tagged", "tagged", "untagged", "deleted")[i % 4]
        manifests.append((repo, digest, len(body), kind, [config_digest] + layers))
    files_written = time.perf_counter() - started

    db = sqlite3.connect(os.path.join(root, "berth", "metadata.sqlite"))
    ins = Inserter(db, tables)
    with db:
        ins.insert("repositories", ({"name": r} for r in repos))
        ids = dict((name, rid) for rid, name in db.execute("SELECT id, name FROM repositories"))
        manifest_digests = {m[1] for m in manifests}
        blob_digests = [d for d in sizes if d not in manifest_digests]
        rows = [{"digest": d, "size": sizes[d], "created_at": 0, "protected_until": 0} for d in blob_digests]
        if probe["manifest_in_blobs"]:
            rows += [{"digest": m[1], "size": m[2], "created_at": 0, "protected_until": 0} for m in manifests]
        ins.insert("blobs", rows)
        links, refs, mrows, trows = [], [], [], []
        referenced = set()
        for idx, (repo, digest, size, kind, blobs) in enumerate(manifests):
            rid = ids[repo]
            links += [{"repository_id": rid, "digest": d, "size": sizes[d]} for d in blobs]
            referenced.update(blobs)
            if kind == "deleted":
                continue   # DELETE by digest drops the manifest row, its tags, references and own link
            links.append({"repository_id": rid, "digest": digest, "size": size})
            mrows.append({"repository_id": rid, "digest": digest, "media_type": OCI_MANIFEST, "size": size,
                          "artifact_type": None, "subject": None, "annotations": None, "created_at": 0})
            refs += [{"repository_id": rid, "parent": digest, "child": d, "is_manifest": 0} for d in blobs]
            if kind == "tagged":
                trows.append({"repository_id": rid, "name": f"v{idx}", "digest": digest, "updated_at": 0,
                              "pushed_at": 0, "pulled_at": None})
        # Pool blobs no manifest uses: uploaded once to some repository and never referenced.
        links += [{"repository_id": ids[rng.choice(repos)], "digest": d, "size": sizes[d]}
                  for d in pool if d not in referenced]
        ins.insert("repository_blobs", links, or_ignore=True)
        ins.insert("manifests", mrows)
        ins.insert("manifest_references", refs, or_ignore=True)
        ins.insert("tags", trows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

    keep_manifests = {probe["manifest"]} | {m[1] for m in manifests if m[3] == "tagged"}
    keep_files = set(keep_manifests) | probe["blobs"]
    for m in manifests:
        if m[3] == "tagged":
            keep_files.update(m[4])
    all_files = set(sizes) | {probe["manifest"]} | probe["blobs"]
    info = {
        "tables": tables, "probe": probe, "filled": ins.filled,
        "manifests": n_manifests, "blobs": len(blob_digests), "repos": n_repos,
        "tagged": sum(m[3] == "tagged" for m in manifests), "untagged": sum(m[3] == "untagged" for m in manifests),
        "deleted": sum(m[3] == "deleted" for m in manifests),
        "files": all_files, "keep_files": keep_files, "keep_manifests": keep_manifests,
        "bytes_unreachable": sum(sizes[d] for d in all_files - keep_files if d in sizes),
        "seconds": time.perf_counter() - started, "files_seconds": files_written,
    }
    return info


def run_gc(binary, config, *flags):
    start = time.perf_counter()
    res = subprocess.run([binary, "garbage-collect", *flags, config], capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"gc_bench: garbage-collect {' '.join(flags)} exited {res.returncode}\n"
                         f"{(res.stdout + res.stderr)[-3000:]}")
    lines = res.stdout.strip().splitlines()
    m = CLI_SUMMARY.search(lines[-1] if lines else "")
    if not m:
        raise SystemExit(f"gc_bench: unexpected garbage-collect output (last line {lines[-1:]!r}):\n"
                         f"{(res.stdout + res.stderr)[-2000:]}")
    return {"wall": elapsed, "manifests": int(m.group(1)), "blobs": int(m.group(2)), "bytes": int(m.group(3)),
            "reported": float(m.group(4)), "line": lines[-1]}


def check_after(root, info):
    problems = []
    files = blob_files(root)
    lost = info["keep_files"] - files
    left = files - info["keep_files"]
    if lost:
        problems.append(f"DATA LOSS: {len(lost)} blob files of reachable manifests removed, e.g. {sorted(lost)[:3]}")
    if left:
        problems.append(f"{len(left)} unreachable blob files left, e.g. {sorted(left)[:3]}")
    db = sqlite3.connect(f"file:{os.path.join(root, 'berth', 'metadata.sqlite')}?mode=ro", uri=True)
    try:
        rows = {r[0] for r in db.execute("SELECT digest FROM blobs")}
        manifests = {r[0] for r in db.execute("SELECT digest FROM manifests")}
        dangling = sum(1 for (d,) in db.execute("SELECT DISTINCT digest FROM repository_blobs") if d not in files)
    finally:
        db.close()
    if rows != files:
        problems.append(f"blobs table differs from the files: {len(rows - files)} rows without a file, "
                        f"{len(files - rows)} files without a row")
    if manifests != info["keep_manifests"]:
        problems.append(f"manifests table: {len(manifests - info['keep_manifests'])} unreachable left, "
                        f"{len(info['keep_manifests'] - manifests)} reachable gone")
    if dangling:
        problems.append(f"{dangling} repository_blobs digests without a file")
    return problems


# ----- (b) serving load

def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def push_phase(server, seconds, threads, layer_size, rep):
    stop = time.monotonic() + seconds
    base = os.urandom(layer_size)
    results = [None] * threads

    def worker(t):
        client = Client(server.port)
        n, nbytes, put_latency = 0, 0, []
        while time.monotonic() < stop:
            layers = [f"{rep}-{t}-{n}-{k}".encode().ljust(64, b".") + base[64:] for k in range(2)]
            _, put_seconds = client.push_image(f"bench/push{t}", f"t{n % 8}", layers)
            n += 1
            nbytes += 2 * layer_size
            put_latency.append(put_seconds)
        client.close()
        results[t] = (n, nbytes, put_latency)

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=seconds + 300)
    elapsed = time.monotonic() - start
    if any(r is None for r in results):
        raise RuntimeError(f"{server.name}: a push thread failed or hung")
    images = sum(r[0] for r in results)
    latencies = [x for r in results for x in r[2]]
    return {"push (MB/s)": sum(r[1] for r in results) / 1e6 / elapsed, "push (images/s)": images / elapsed,
            "manifest PUT p99 (ms, lower is better)": percentile(latencies, 99) * 1000}


def pull_phase(server, seconds, threads, images):
    stop = time.monotonic() + seconds
    results = [None] * threads

    def worker(t):
        client = Client(server.port)
        nbytes, i = 0, t
        while time.monotonic() < stop:
            repo, tag, layers = images[i % len(images)]
            status, body = client.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
            assert status == 200, (server.name, "GET manifest", status)
            for d, size in layers:
                status, data = client.request("GET", f"/v2/{repo}/blobs/{d}")
                assert status == 200 and len(data) == size, (server.name, "GET blob", status, len(data))
                nbytes += size
            i += 1
        client.close()
        results[t] = nbytes

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=seconds + 300)
    elapsed = time.monotonic() - start
    if any(r is None for r in results):
        raise RuntimeError(f"{server.name}: a pull thread failed or hung")
    return {"pull (MB/s)": sum(results) / 1e6 / elapsed}


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(servers, seconds):
    """CPU used by each server (percent of one core) while no client sends anything."""
    before = {s.name: cpu_seconds(s.proc.pid) for s in servers}
    time.sleep(seconds)
    return {s.name: 100 * (cpu_seconds(s.proc.pid) - before[s.name]) / seconds for s in servers}


def sweep_stats(text):
    durations, removed = [], {"manifests": 0, "blobs": 0, "bytes": 0}
    for line in text.splitlines():
        if "gc sweep" not in line:
            continue
        try:
            fields = {k: str(v) for k, v in json.loads(line).items()}
        except ValueError:
            fields = dict(re.findall(r"(\w+)=\"?([^\s\"]+)", line))
        for k in removed:
            m = re.match(r"\d+", fields.get(k, ""))
            removed[k] += int(m.group(0)) if m else 0
        m = re.match(r"([\d.]+)\s*(ms|us|µs|s)?", fields.get("duration", ""))
        if m:
            durations.append(float(m.group(1)) * {"ms": 1e-3, "us": 1e-6, "µs": 1e-6}.get(m.group(2) or "s", 1.0))
    return len(durations), durations, removed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=default_bin_dir(), help="directory holding berth-registry")
    parser.add_argument("--manifests", type=int, help="manifests to seed (default 10,000; 2,000 with --quick)")
    parser.add_argument("--blobs", type=int, help="config/layer blobs to seed (default 50,000; 10,000 with --quick)")
    parser.add_argument("--repos", type=int, default=100)
    parser.add_argument("--seconds", type=float, help="length of each serving phase (default 8; 3 with --quick)")
    parser.add_argument("--reps", type=int, help="repetitions of the serving phases (default 3; 1 with --quick)")
    parser.add_argument("--threads", type=int, default=4, help="client threads for push and pull")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-serving", action="store_true", help="only (a), the sweep speed")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    n_manifests = args.manifests or (2000 if args.quick else 10000)
    n_blobs = args.blobs or (5 * n_manifests)
    seconds = args.seconds or (3 if args.quick else 8)
    reps = args.reps or (1 if args.quick else 3)
    binary = os.path.join(os.path.abspath(args.bin_dir), "berth-registry")
    if not os.access(binary, os.X_OK):
        sys.exit(f"gc_bench: {binary} is missing or not executable (--bin-dir)")
    helped = subprocess.run([binary, "garbage-collect", "--help"], capture_output=True, text=True, timeout=60)
    if helped.returncode != 0:
        sys.exit(f"gc_bench: {binary} has no garbage-collect command (an older build? --bin-dir)")
    if not args.skip_serving and not shutil.which("wrk"):
        sys.exit("gc_bench: wrk is not installed (scripts/install-deps.sh), or pass --skip-serving")
    build = os.path.basename(os.path.normpath(args.bin_dir))
    rng = random.Random(20240601)
    work = tempfile.mkdtemp(prefix="berth-gc-bench-")
    servers = []
    report = {"binary": binary, "cores": os.cpu_count()}
    problems = []
    try:
        # ----- (a)
        root = os.path.join(work, "root-seeded")
        log(f"[a] seeding {n_manifests:,} manifests and {n_blobs:,} blobs into {root}")
        info = seed(binary, work, root, n_manifests, n_blobs, args.repos, rng)
        log(f"[a] seeded in {info['seconds']:.1f}s (files {info['files_seconds']:.1f}s); tagged {info['tagged']:,}, "
            f"untagged {info['untagged']:,}, deleted {info['deleted']:,}")
        if info["filled"]:
            log(f"[a] NOT NULL columns filled with 0/'': {dict((k, sorted(v)) for k, v in info['filled'].items())}")
        gc_settings = {"enabled": "true", "interval": "1h", "delay": "2s", "untagged": "true", "dryrun": "false"}
        cli = GCServer("cli", binary, work, root, gc=gc_settings)   # only its config file is used
        before = blob_files(root)
        sweeps = []
        log("[a] garbage-collect --dry-run --delete-untagged")
        sweeps.append(("dry run", run_gc(binary, cli.config, "--dry-run", "--delete-untagged")))
        if blob_files(root) != before:
            problems.append(f"--dry-run removed {len(before - blob_files(root))} blob files")
        log("[a] garbage-collect --delete-untagged")
        sweeps.append(("sweep", run_gc(binary, cli.config, "--delete-untagged")))
        problems += check_after(root, info)
        log("[a] garbage-collect --delete-untagged (again)")
        sweeps.append(("second sweep (nothing to do)", run_gc(binary, cli.config, "--delete-untagged")))
        if sweeps[2][1]["manifests"] or sweeps[2][1]["blobs"]:
            problems.append(f"the second sweep removed something: {sweeps[2][1]['line']}")
        removable_files = len(info["files"] - info["keep_files"])
        report["sweep"] = {name: s for name, s in sweeps}
        report["seed"] = {k: info[k] for k in ("manifests", "blobs", "repos", "tagged", "untagged", "deleted", "seconds")}

        # ----- (b)
        serving = {}
        sweep_info = None
        if not args.skip_serving:
            settings = {"gc every 1s": {"enabled": "true", "interval": "1s", "delay": "2s", "untagged": "true",
                                        "dryrun": "false"},
                        "gc off": {"enabled": "false"}}
            for name, gc in settings.items():
                copy = os.path.join(work, f"root-{name.replace(' ', '-')}")
                subprocess.run(["cp", "-a", root, copy], check=True, timeout=600)
                servers.append(GCServer(name, binary, work, copy, gc=gc))
            log("[b] starting both servers")
            for s in servers:
                s.start()
            log("[b] started; pushing the images to pull")
            layer_size = 256 * KiB
            for s in servers:
                client = Client(s.port)
                s.images = []
                for i in range(8):
                    layers = [os.urandom(layer_size) for _ in range(2)]
                    manifest, _ = client.push_image("bench/pull", f"p{i}", layers)
                    s.images.append(("bench/pull", f"p{i}", [(sha256(x), len(x)) for x in layers]))
                client.close()
                wrk(s.url("/v2/bench/pull/manifests/p0"), 2)   # warm-up
            results = {s.name: {} for s in servers}
            for r in range(reps):
                for phase in ("push", "pull", "manifest GET"):
                    for s in alternate(servers, r):
                        log(f"[b] {s.name}: {phase} {seconds:g}s ({r + 1}/{reps})")
                        if phase == "push":
                            figures = push_phase(s, seconds, args.threads, layer_size, r)
                        elif phase == "pull":
                            figures = pull_phase(s, seconds, args.threads, s.images)
                        else:
                            rps, p99, errors = wrk(s.url("/v2/bench/pull/manifests/p0"), int(seconds))
                            figures = {"manifest GET (req/s)": rps, "manifest GET p99 (ms, lower is better)": p99}
                            if errors:
                                problems.append(f"{s.name}: wrk socket errors {errors}")
                        for k, v in figures.items():
                            results[s.name].setdefault(k, []).append(v)
            log(f"[b] idle CPU over {seconds:g}s")
            time.sleep(2 * 2)   # let the last garbage pass the delay and go
            for name, pct in idle_cpu(servers, seconds).items():
                results[name]["idle CPU (% of a core, lower is better)"] = [pct]
            log("[b] done")
            count, durations, removed = sweep_stats(servers[0].log_text())
            sweep_info = (count, durations, removed)
            for s in servers:
                text = s.log_text()
                bad = [l for l in text.splitlines() if "request failed" in l or re.match(r"^\S+\s+(error|critical)\s", l)
                       or '"level":"error"' in l]
                if bad:
                    problems.append(f"{s.name} log has {len(bad)} error lines, e.g. {bad[0][:300]}")
            if count == 0:
                problems.append("the gc server logged no 'gc sweep' line")
            serving = {k: {"with": statistics.median(results["gc every 1s"][k]),
                           "without": statistics.median(results["gc off"][k])} for k in results["gc every 1s"]}
            report["serving"] = {"figures": serving, "samples": results, "sweeps": count,
                                 "sweep_seconds": durations, "removed": removed}
    except BaseException:
        for s in servers:
            log(f"---- {s.name} log tail ----")
            try:
                log(s.log_text()[-3000:])
            except OSError:
                pass
        raise
    finally:
        log("stopping the servers")
        for s in servers:
            s.stop()
        log("removing the temp dir")
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\n## berth-registry garbage collection ({build} build, {os.cpu_count()} cores)\n")
    print(f"Seeded: {info['manifests']:,} manifests ({info['tagged']:,} tagged, {info['untagged']:,} untagged, "
          f"{info['deleted']:,} deleted by digest) in {info['repos']} repositories, {info['blobs']:,} config/layer "
          f"blobs; {len(info['files']):,} blob files of which {removable_files:,} unreachable "
          f"({info['bytes_unreachable'] / 1e6:.1f} MB).\n")
    print("| garbage-collect --delete-untagged | wall s | reported s | manifests | blobs | bytes | goal |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, s in sweeps:
        goal = ""
        if name == "sweep":
            goal = f"<{SWEEP_GOAL_SECONDS:g}s {'met' if s['wall'] < SWEEP_GOAL_SECONDS else 'MISSED'}"
        print(f"| {name} | {s['wall']:.2f} | {s['reported']:.2f} | {s['manifests']:,} | {s['blobs']:,} | "
              f"{s['bytes']:,} | {goal} |")
    if serving:
        count, durations, removed = sweep_info
        print(f"\nServing on copies of the swept root, {args.threads} client threads, {seconds:g}s phases, median of "
              f"{reps}; wrk -c32 -t2. Ratio = with / without sweeps.\n")
        print("| measure | gc every 1s | gc off | ratio | goal |")
        print("|---|---:|---:|---:|---|")
        for k, row in serving.items():
            ratio = row["with"] / row["without"] if row["without"] else None
            goal = ""
            if k.startswith("manifest GET p99"):
                goal = f"≤{P99_GOAL_RATIO:g}x {'met' if ratio is not None and ratio <= P99_GOAL_RATIO else 'MISSED'}"
            shown = f"{ratio:.2f}x" if ratio is not None else "-"
            print(f"| {k} | {row['with']:,.1f} | {row['without']:,.1f} | {shown} | {goal} |")
        p99s = [results[n]["manifest GET p99 (ms, lower is better)"] for n in ("gc every 1s", "gc off")]
        print("\nmanifest GET p99 per repetition (with / without, ms): "
              + ", ".join(f"{a:.1f} / {b:.1f}" for a, b in zip(*p99s)))
        if durations:
            print(f"\nThe gc server swept {count} times during the run (median {statistics.median(durations) * 1000:.0f} ms, "
                  f"longest {max(durations) * 1000:.0f} ms) and removed {removed['manifests']:,} manifests, "
                  f"{removed['blobs']:,} blobs, {removed['bytes'] / 1e6:.1f} MB.")
        else:
            print(f"\nThe gc server logged {count} sweeps (no durations parsed).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2, default=str)
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(f"- {p}" for p in problems))
        sys.exit(1)


if __name__ == "__main__":
    main()

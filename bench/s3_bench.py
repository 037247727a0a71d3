"""berth-registry vs CNCF Distribution 2.8.2 with blobs in S3, on the same RADOS Gateway in one run.

scripts/s3-server.sh starts a single-node Ceph cluster with its RADOS Gateway (BlueStore on a
sparse file in the temp dir: the runs write GBs); each server gets its own prefix
(`rootdirectory`) in one bucket, Distribution its own s3 driver and Berth its own, both with the
default 10 MiB part size and redirects on, as users run them. Measures, each taken on both
servers in alternating order so load drift on the shared 2-core machine hits both alike:

  push monolithic   POST, then PUT ?digest= with the whole blob (curl -T)
  push chunked      POST, PATCH 16 MiB chunks with Content-Range, PUT ?digest=
  pull              GET of the blob following the 307 to the bucket (curl -L): the node's part
                    is the redirect, the bytes come from the gateway
  manifest GET      wrk -c32 -t2 by tag with an OCI Accept header: req/s and p99

Every pushed blob is distinct (random content), so no server can skip work. Figures are the
median of --reps repetitions. Everything lives in one temp dir removed at the end; the servers and
the Ceph cluster are always stopped.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_bench import (MiB, Server, alternate, curl, free_port, make_blob, push_chunked,  # noqa: E402
                            push_image, push_monolithic, wrk)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


class S3Server(Server):
    """registry_bench's Server with its blobs in the bucket under a prefix of its own."""

    def __init__(self, name, binary, workdir, s3, berth):
        super().__init__(name, binary, workdir)
        s3_section = (f"  s3:\n    accesskey: {s3['S3_ACCESS_KEY']}\n    secretkey: {s3['S3_SECRET_KEY']}\n"
                      f"    region: us-east-1\n    regionendpoint: {s3['S3_ENDPOINT']}\n    bucket: {s3['S3_BUCKET']}\n"
                      f"    rootdirectory: /{name}\n    v4auth: true\n")
        s3_section += "    forcepathstyle: true\n" if berth else "    secure: false\n"
        database = f"database:\n  sqlite:\n    path: {os.path.join(workdir, name + '.sqlite')}\n" if berth else ""
        with open(self.config, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n{s3_section}  delete:\n    enabled: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    + ("" if berth else "health:\n  storagedriver:\n    enabled: false\n")
                    + database
                    + f"http:\n  addr: 127.0.0.1:{self.port}\n  secret: berth-bench-secret\n")

    def start(self):
        # Distribution's AWS SDK refuses to start with an AWS_CA_BUNDLE its transport cannot take.
        os.environ["AWS_CA_BUNDLE"] = ""
        return super().start()


def pull_following(server, repo, blob):
    status, seconds, size = curl("-L", server.url(f"/v2/{repo}/blobs/{blob.digest}"))
    assert status == 200 and size == blob.size, (server.name, "GET blob -L", status, size)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", default=os.path.join(REPO, ".build", "release", "berth-registry"))
    parser.add_argument("--distribution", default="/usr/bin/docker-registry")
    parser.add_argument("--blob-mib", type=int, default=256)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="64 MiB blobs, 1 repetition, 3 s wrk runs")
    args = parser.parse_args()
    if args.quick:
        args.blob_mib, args.reps, args.wrk_seconds = 64, 1, 3

    work = tempfile.mkdtemp(prefix="berth-s3-bench-")
    ceph = os.path.join(work, "ceph")
    servers = []
    try:
        log("starting the RADOS Gateway (scripts/s3-server.sh, BlueStore)")
        subprocess.run(["bash", os.path.join(REPO, "scripts", "s3-server.sh"), "start", "--bluestore", ceph,
                        str(free_port()), "bench"], check=True, stdout=subprocess.DEVNULL)
        s3 = dict(line.split("=", 1) for line in open(os.path.join(ceph, "env")).read().splitlines() if "=" in line)
        servers = [S3Server("berth", args.berth, work, s3, berth=True).start(),
                   S3Server("distribution", args.distribution, work, s3, berth=False).start()]
        results = {s.name: {} for s in servers}

        def record(measure, server, value):
            results[server.name].setdefault(measure, []).append(value)

        size = args.blob_mib * MiB
        for rep in range(args.reps):
            for s in alternate(servers, rep):
                blob = make_blob(os.path.join(work, "blob"), size)
                log(f"[{s.name}] push monolithic {args.blob_mib} MiB {rep + 1}/{args.reps}")
                record("push monolithic (MB/s)", s, size / push_monolithic(s, "bench/mono", blob) / 1e6)
                log(f"[{s.name}] pull (following the redirect) {rep + 1}/{args.reps}")
                record("pull, 307 to the bucket (MB/s)", s, size / pull_following(s, "bench/mono", blob) / 1e6)
                blob = make_blob(os.path.join(work, "blob"), size)
                log(f"[{s.name}] push chunked {rep + 1}/{args.reps}")
                record("push chunked, 16 MiB (MB/s)", s, size / push_chunked(s, "bench/chunked", blob, 16 * MiB) / 1e6)
        for s in servers:
            push_image(s, "bench/app", "latest")
        for rep in range(args.reps):
            for s in alternate(servers, rep):
                log(f"[{s.name}] wrk {args.wrk_seconds} s {rep + 1}/{args.reps}")
                rps, p99, _ = wrk(s.url("/v2/bench/app/manifests/latest"), args.wrk_seconds)
                record("manifest GET by tag (req/s)", s, rps)
                record("manifest GET p99 (ms, lower is better)", s, p99)

        print(f"\n## berth-registry vs Distribution 2.8.2 on S3 (Ceph RADOS Gateway, BlueStore), "
              f"{args.blob_mib} MiB blobs, median of {args.reps}\n")
        print("| measure | berth | distribution | berth/distribution |\n|---|---:|---:|---:|")
        for measure in results["berth"]:
            b, d = statistics.median(results["berth"][measure]), statistics.median(results["distribution"][measure])
            print(f"| {measure} | {b:,.1f} | {d:,.1f} | {b / d:.2f}x |")
        print("\nper repetition: " + json.dumps(results))
    finally:
        for s in servers:
            s.stop()
        subprocess.run(["bash", os.path.join(REPO, "scripts", "s3-server.sh"), "stop", ceph],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

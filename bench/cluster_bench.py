"""berth-registry as one node vs three behind haproxy: manifest GET by tag, requests/s.

Three nodes share one S3 bucket (a RADOS Gateway from scripts/s3-server.sh, memstore: only
manifests are read) and one PostgreSQL database (scripts/postgres-server.sh), as
deploy/cluster/ runs them. One haproxy (round robin, no stickiness, as deploy/cluster/haproxy.cfg)
has two frontends: one in front of node 1 only, one in front of all three. Each repetition
measures, in alternating order:

  direct      wrk against node 1 itself (no proxy): the baseline
  1 node      wrk through haproxy to node 1
  3 nodes     wrk through haproxy to the three nodes

On a 2-core machine three nodes cannot scale: the figures show what haproxy and the extra
processes cost, not what more machines would give. Everything lives in one temp dir removed at
the end; the nodes, haproxy, PostgreSQL and the Ceph cluster are always stopped.
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
from registry_bench import Server, free_port, push_image, wrk  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTED = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - STARTED:6.1f}s] {msg}", file=sys.stderr, flush=True)


def env_file(path):
    return dict(line.split("=", 1) for line in open(path).read().splitlines() if "=" in line)


class Node(Server):
    """registry_bench's Server with its blobs in the shared bucket and metadata in PostgreSQL."""

    def __init__(self, name, binary, workdir, s3, pg):
        super().__init__(name, binary, workdir)
        with open(self.config, "w") as f:
            f.write("version: 0.1\n"
                    "log:\n  level: error\n  accesslog:\n    disabled: true\n"
                    f"storage:\n  s3:\n    accesskey: {s3['S3_ACCESS_KEY']}\n    secretkey: {s3['S3_SECRET_KEY']}\n"
                    f"    region: us-east-1\n    regionendpoint: {s3['S3_ENDPOINT']}\n    bucket: {s3['S3_BUCKET']}\n"
                    "    rootdirectory: /cluster\n    forcepathstyle: true\n"
                    "  maintenance:\n    uploadpurging:\n      enabled: false\n"
                    f"database:\n  enabled: true\n  host: {pg['PG_HOST']}\n  port: {pg['PG_PORT']}\n"
                    f"  user: {pg['PG_USER']}\n  password: {pg['PG_PASSWORD']}\n  dbname: {pg['PG_DATABASE']}\n"
                    "  sslmode: disable\n  pool:\n    maxopen: 8\n"
                    f"http:\n  addr: 127.0.0.1:{self.port}\n")


def haproxy_config(single_port, all_port, nodes):
    servers = "\n".join(f"    server node{i} 127.0.0.1:{n.port}" for i, n in enumerate(nodes, start=1))
    return f"""global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend one_node
    bind 127.0.0.1:{single_port}
    default_backend one_node
frontend three_nodes
    bind 127.0.0.1:{all_port}
    default_backend three_nodes
backend one_node
    server node1 127.0.0.1:{nodes[0].port}
backend three_nodes
    balance roundrobin
{servers}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--berth", default=os.path.join(REPO, ".build", "release", "berth-registry"))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="berth-cluster-bench-")
    ceph = os.path.join(work, "ceph")
    # Outside `work` (mode 0700): PostgreSQL runs as its own user. The script makes the directory.
    pg_dir = tempfile.mkdtemp(prefix="berth-cluster-bench-pg-")
    os.rmdir(pg_dir)
    nodes, proxy = [], None
    try:
        log("starting the RADOS Gateway and PostgreSQL")
        subprocess.run(["bash", os.path.join(REPO, "scripts", "s3-server.sh"), "start", ceph, str(free_port()), "bench"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["bash", os.path.join(REPO, "scripts", "postgres-server.sh"), "start", pg_dir, str(free_port())],
                       check=True, stdout=subprocess.DEVNULL)
        s3, pg = env_file(os.path.join(ceph, "env")), env_file(os.path.join(pg_dir, "env"))
        nodes = [Node(f"node{i}", args.berth, work, s3, pg).start() for i in (1, 2, 3)]
        push_image(nodes[0], "bench/app", "latest")

        single_port, all_port = free_port(), free_port()
        config = os.path.join(work, "haproxy.cfg")
        with open(config, "w") as f:
            f.write(haproxy_config(single_port, all_port, nodes))
        proxy = subprocess.Popen(["haproxy", "-db", "-f", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        path = "/v2/bench/app/manifests/latest"
        targets = [("direct to node 1", nodes[0].url(path)),
                   ("haproxy, 1 node", f"http://127.0.0.1:{single_port}{path}"),
                   ("haproxy, 3 nodes", f"http://127.0.0.1:{all_port}{path}")]
        results = {name: [] for name, _ in targets}
        for rep in range(args.reps):
            for name, url in (targets if rep % 2 == 0 else list(reversed(targets))):
                log(f"[{name}] wrk {args.wrk_seconds} s {rep + 1}/{args.reps}")
                rps, _, _ = wrk(url, args.wrk_seconds)
                results[name].append(rps)

        base = statistics.median(results["haproxy, 1 node"])
        print(f"\n## manifest GET by tag, berth-registry on S3 + PostgreSQL, wrk -c32, median of {args.reps}\n")
        print("| setup | req/s | vs haproxy, 1 node |\n|---|---:|---:|")
        for name, _ in targets:
            value = statistics.median(results[name])
            print(f"| {name} | {value:,.0f} | {value / base:.2f}x |")
        print("\nper repetition: " + json.dumps(results))
    finally:
        if proxy:
            proxy.terminate()
            proxy.wait(timeout=10)
        for node in nodes:
            node.stop()
        subprocess.run(["bash", os.path.join(REPO, "scripts", "postgres-server.sh"), "stop", pg_dir],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["bash", os.path.join(REPO, "scripts", "s3-server.sh"), "stop", ceph],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(pg_dir, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What several berth-registry nodes on one S3 bucket and one PostgreSQL database must coordinate:
an upload whose node is killed with -9 is finished through another, garbage-collection sweeps run
on one node at a time (a PostgreSQL advisory lock) under concurrent pushes, each notification
endpoint gets its events from one node (no duplicates) and from another once that node dies, and
an embedded registry moves to PostgreSQL with `migrate import-sqlite`.

Real engines only: the RADOS Gateway and PostgreSQL that scripts/test.sh starts, skopeo and raw
HTTP; the webhook receiver is test_notifications.py's small http.server.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
import uuid
from datetime import datetime

import pytest
import yaml

from backend_support import MiB, postgres_url, s3  # noqa: F401  (s3 is a fixture)
from images import make_busybox_oci_layout, sha256_digest
from polling import wait_until
from programs import BERTH_REGISTRY
from registry_http import OCTET, patch_ok, raw, start_upload, stream_body, upload_range_end, with_query
from registry_process import RegistryProcess
from skopeo_support import skopeo_copy
from test_cluster import database, node  # noqa: F401  (database is a fixture)
from test_notifications import Receiver, endpoint

# PostgresLockSession's key space and FNV-1a name hash (Sources/RegistryMetadata/PostgresLockSession.swift).
LOCK_CLASS = 0x62657274


def lock_key(name: str) -> int:
    value = 2166136261
    for byte in name.encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def log_records(reg: RegistryProcess, message: str) -> list[dict]:
    records = []
    for line in reg.log_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == message:
            records.append(record)
    return records


def test_an_upload_whose_node_is_killed_is_finished_through_another(tmp_path, s3, database):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    with node(tmp_path / "a", s3, prefix, database) as a, node(tmp_path / "b", s3, prefix, database) as b:
        data = os.urandom(24 * MiB + 3)
        digest = sha256_digest(data)
        location = patch_ok(a, start_upload(a, "app/big"), data[:6 * MiB], 0)
        sent = [0]
        head = (f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Range: {6 * MiB}-{len(data) - 1}\r\nContent-Length: {len(data) - 6 * MiB}\r\n\r\n").encode()
        streamer = threading.Thread(target=stream_body, args=(a.port, head, data[6 * MiB:], sent, 0.02))
        streamer.start()
        wait_until(lambda: sent[0] >= 8 * MiB, 30, "the PATCH to get going")
        a.kill9()
        streamer.join(timeout=30)

        # The client asks the other node where the upload stands and carries on from there.
        acknowledged = upload_range_end(b, location)
        assert 6 * MiB <= acknowledged <= len(data), acknowledged
        location = patch_ok(b, location, data[acknowledged:], acknowledged)
        done = raw(b, "PUT", with_query(location, digest=digest), b"", OCTET, timeout=120)
        assert done.status == 201, done
        a.start()
        assert raw(a, "GET", f"/v2/app/big/blobs/{digest}", timeout=120).body == data


def test_sweeps_run_on_one_node_at_a_time_under_concurrent_pushes(tmp_path, s3, database):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    gc = {"storage": {"delete": {"enabled": True},
                      "maintenance": {"gc": {"enabled": True, "interval": "1s", "delay": "10s", "untagged": True}}}}
    nodes = [node(tmp_path / f"n{i}", s3, prefix, database) for i in range(3)]
    for reg in nodes:
        reg.config = {**reg.config, "storage": {**reg.config["storage"], **gc["storage"]}}
        reg.config["log"] = {"level": "info", "formatter": "json"}
        reg.start()
    try:
        # A lock held from outside: no node sweeps until it is let go.
        holder = subprocess.Popen(["psql", _node_database_url(database), "-qc",
                                   f"SELECT pg_advisory_lock({LOCK_CLASS}, {lock_key('gc-sweep')}); SELECT pg_sleep(3)"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)
        swept_before = [len(log_records(reg, "gc sweep")) for reg in nodes]
        time.sleep(2)
        assert [len(log_records(reg, "gc sweep")) for reg in nodes] == swept_before, "a sweep ran while the lock was held"
        assert any(log_records(reg, "gc sweep skipped") for reg in nodes)
        holder.wait(timeout=30)

        # A blob no manifest will reference: the sweeps must remove it once its 10 s are up.
        lone = os.urandom(4096)
        lone_digest = sha256_digest(lone)
        done = raw(nodes[0], "POST", f"/v2/team/lone/blobs/uploads/?digest={lone_digest}", lone, OCTET)
        assert done.status == 201, done

        # Twelve images pushed through the three nodes at once, while they all sweep every second.
        images = [make_busybox_oci_layout(tmp_path / f"img{i}", tag="1", extra_layers=[{"etc/which": f"{i}\n".encode()}])
                  for i in range(12)]
        errors = []

        def push(i):
            try:
                reg = nodes[i % 3]
                skopeo_copy(f"oci:{images[i].layout_dir}:1", reg.ref(f"team/app{i}", "1"), reg, "--quiet")
            except Exception as e:  # reported below
                errors.append(f"image {i}: {e}")
        threads = [threading.Thread(target=push, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        wait_until(lambda: all(len(log_records(reg, "gc sweep")) > count + 1 for reg, count in zip(nodes, swept_before)),
                   60, "every node to sweep again")

        # (Polled in the logs: a HEAD would protect the blob for another grace period.)
        wait_until(lambda: any(int(r["blobs"]) > 0 for reg in nodes for r in log_records(reg, "gc sweep")), 60,
                   "a sweep to remove the unreferenced blob")
        assert raw(nodes[2], "HEAD", f"/v2/team/lone/blobs/{lone_digest}").status == 404

        # Nothing a push made was taken: every image pulls whole from another node.
        for i, image in enumerate(images):
            pulled = tmp_path / f"pulled{i}"
            skopeo_copy(nodes[(i + 1) % 3].ref(f"team/app{i}", "1"), f"oci:{pulled}:1", nodes[(i + 1) % 3], "--quiet")
            for layer, _, _ in image.layers:
                assert (pulled / "blobs" / "sha256" / layer.split(":")[1]).exists()

        # The sweeps, from every node's log, never overlapped.
        spans = []
        for reg in nodes:
            for record in log_records(reg, "gc sweep"):
                end = datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()
                spans.append((end - float(record["duration"].rstrip("s")), end, repr(reg)))
        spans.sort()
        assert len({owner for _, _, owner in spans}) >= 2, "the sweeps should be spread over the nodes"
        for (start1, end1, owner1), (start2, end2, owner2) in zip(spans, spans[1:]):
            assert start2 >= end1 - 0.002, f"sweeps overlapped: {owner1} until {end1}, {owner2} from {start2}"
    finally:
        for reg in nodes:
            reg.close()


def test_a_node_killed_mid_sweep_frees_the_lock_and_another_finishes_its_work(tmp_path, s3, database):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    a = node(tmp_path / "a", s3, prefix, database)
    a.config["storage"]["maintenance"] = {"gc": {"enabled": True, "interval": "1s", "delay": "0s"}}
    # The sweep kills its own process right after its first file deletion.
    a.extra_env["BERTH_FAILPOINT_GC_ABORT_AFTER_DELETES"] = "1"
    with a:
        lone = os.urandom(4096)
        lone_digest = sha256_digest(lone)
        assert raw(a, "POST", f"/v2/team/lone/blobs/uploads/?digest={lone_digest}", lone, OCTET).status == 201
        wait_until(lambda: a.proc.poll() is not None, 60, "a's sweep to reach the failpoint")

    # Another node's garbage-collect takes the lock at once (it waits two minutes at most for a
    # live holder) and finishes what the dead sweep left marked.
    b = node(tmp_path / "b", s3, prefix, database)
    b.write_config()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "BERTH_FAILPOINT"))}
    result = subprocess.run([str(BERTH_REGISTRY), "garbage-collect", str(b.config_path)], capture_output=True, text=True,
                            timeout=100, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("gc: removed"), result.stdout
    with b:
        assert raw(b, "HEAD", f"/v2/team/lone/blobs/{lone_digest}").status == 404


def _node_database_url(database: dict) -> str:
    return postgres_url().rsplit("/", 1)[0] + "/" + database["dbname"]


def test_each_endpoint_gets_its_events_from_one_node_and_from_another_once_it_dies(tmp_path, s3, database):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    receiver = Receiver("ci").start()
    nodes = [node(tmp_path / f"n{i}", s3, prefix, database) for i in range(3)]
    try:
        for reg in nodes:
            reg.config["notifications"] = {"endpoints": [endpoint("ci", receiver)]}
            reg.start()
        images = [make_busybox_oci_layout(tmp_path / f"img{i}", tag="1", extra_layers=[{"etc/which": f"{i}\n".encode()}])
                  for i in range(4)]

        def pushes():
            return [e for e in receiver.delivered()
                    if e["action"] == "push" and e["target"]["mediaType"].endswith("manifest.v1+json")]

        for i in range(3):
            skopeo_copy(f"oci:{images[i].layout_dir}:1", nodes[i].ref(f"team/app{i}", "1"), nodes[i], "--quiet")
        wait_until(lambda: len(pushes()) >= 3, 30, "the manifest pushes to arrive", detail=receiver.summary)
        time.sleep(2)  # room for the duplicates that three senders would make
        ids = [e["id"] for e in receiver.delivered()]
        assert len(ids) == len(set(ids)), f"events delivered twice:\n{receiver.summary()}"
        assert sorted(e["target"]["repository"] for e in pushes()) == ["team/app0", "team/app1", "team/app2"]

        # Two of the three nodes die; the last one takes the deliveries over (if it had not got them).
        nodes[0].kill9()
        nodes[1].kill9()
        skopeo_copy(f"oci:{images[3].layout_dir}:1", nodes[2].ref("team/app3", "1"), nodes[2], "--quiet")
        wait_until(lambda: any(e["target"]["repository"] == "team/app3" for e in pushes()), 30,
                   "the push after the failover to arrive", detail=receiver.summary)
        delivered = [e["id"] for e in receiver.delivered()]
        assert len([i for i in delivered if i not in ids]) == len(set(delivered) - set(ids)), receiver.summary()
    finally:
        for reg in nodes:
            reg.close()
        receiver.stop()


def test_an_embedded_registry_moves_to_postgres_with_import_sqlite(tmp_path, database):
    image = make_busybox_oci_layout(tmp_path / "img", tag="1")
    with RegistryProcess(tmp_path / "embedded", "berth") as embedded:
        skopeo_copy(f"oci:{image.layout_dir}:1", embedded.ref("library/busybox", "1"), embedded, "--quiet")
        skopeo_copy(f"oci:{image.layout_dir}:1", embedded.ref("library/busybox", "latest"), embedded, "--quiet")
        config = embedded.config
    root = config["storage"]["filesystem"]["rootdirectory"]
    sqlite = f"{root}/berth/metadata.sqlite"

    # Same blobs, metadata now in PostgreSQL.
    moved = {**config, "database": database}
    config_path = tmp_path / "moved.yml"
    config_path.write_text(yaml.safe_dump(moved))
    result = subprocess.run([str(BERTH_REGISTRY), "migrate", "import-sqlite", sqlite, str(config_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert re.search(r"imported .*: 1 repositories, .* 2 tags", result.stdout), result.stdout
    again = subprocess.run([str(BERTH_REGISTRY), "migrate", "import-sqlite", sqlite, str(config_path)],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "already holds registry data" in again.stderr, again.stderr

    reg = RegistryProcess(tmp_path / "cluster", "berth")
    reg.config = {**reg.config, "storage": config["storage"], "database": database}
    with reg:
        tags = json.loads(raw(reg, "GET", "/v2/library/busybox/tags/list").body)["tags"]
        assert sorted(tags) == ["1", "latest"]
        pulled = tmp_path / "pulled"
        skopeo_copy(reg.ref("library/busybox", "1"), f"oci:{pulled}:1", reg, "--quiet")
        assert (pulled / "index.json").exists()

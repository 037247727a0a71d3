"""Several berth-registry nodes sharing one S3 bucket and one PostgreSQL database: the shape that
scales out. Real engines only: the RADOS Gateway and PostgreSQL that scripts/test.sh starts
(their env files named by BERTH_TEST_S3_ENV and BERTH_TEST_POSTGRES_ENV), skopeo and raw HTTP.

Each test gets a bucket prefix and a database of its own.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
import yaml

from backend_support import MiB, create_database, drop_database, s3, s3_storage  # noqa: F401  (s3 is a fixture)
from images import assert_same_blobs, layout_blobs_verified, sha256_digest
from programs import BERTH_REGISTRY, REPO_ROOT, ServerProcess, free_port
from registry_process import RegistryProcess
from skopeo_support import skopeo, skopeo_copy


@pytest.fixture
def database():
    """A fresh PostgreSQL database for the test, dropped afterwards; its `database` section."""
    section = {**create_database("cluster"), "pool": {"maxopen": 8}}
    yield section
    drop_database(section)


def node(workdir: Path, s3, prefix: str, database: dict, redirect: bool = False) -> RegistryProcess:
    reg = RegistryProcess(workdir, "berth")
    storage = reg.config["storage"]
    del storage["filesystem"]
    storage["s3"] = s3_storage(s3, prefix)
    storage["redirect"] = {"disable": not redirect}
    reg.config["database"] = database
    return reg


def test_nodes_share_pushes_uploads_and_tags_through_postgres(tmp_path, s3, database, busybox_layout):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    with node(tmp_path / "a", s3, prefix, database) as a, node(tmp_path / "b", s3, prefix, database) as b:
        # An image pushed through one node is pulled, whole, from the other.
        layout = busybox_layout.layout_dir
        skopeo_copy(f"oci:{layout}:latest", a.ref("library/busybox", "1"), a)
        pulled = tmp_path / "pulled"
        skopeo_copy(b.ref("library/busybox", "1"), f"oci:{pulled}:latest", b)
        assert_same_blobs(layout_blobs_verified(layout), layout_blobs_verified(pulled), "pushed on a, pulled from b")
        assert requests.get(f"{b.url}/v2/library/busybox/tags/list", timeout=30).json()["tags"] == ["1"]

        # A chunked upload whose PATCHes alternate between the nodes.
        data = os.urandom(11 * MiB + 7)
        digest = sha256_digest(data)
        started = requests.post(f"{a.url}/v2/app/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text
        path = started.headers["Location"]
        for index, (start, end) in enumerate([(0, 6 * MiB), (6 * MiB, 6 * MiB + 10), (6 * MiB + 10, 10 * MiB)]):
            target = (b, a)[index % 2]
            reply = requests.patch(f"{target.url}{path}", data=data[start:end], timeout=60, headers={
                "Content-Type": "application/octet-stream", "Content-Range": f"{start}-{end - 1}"})
            assert reply.status_code == 202, reply.text
            path = reply.headers["Location"]
        done = requests.put(f"{b.url}{path}{'&' if '?' in path else '?'}digest={digest}", data=data[10 * MiB:], timeout=60)
        assert done.status_code == 201, done.text
        assert requests.get(f"{a.url}/v2/app/blobs/{digest}", timeout=60).content == data


def test_migrate_status_and_up(tmp_path, s3, database):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {"s3": s3_storage(s3, "migrate")}, "database": database,
                                      "http": {"addr": "127.0.0.1:5000"}}))

    def migrate(action):
        result = subprocess.run([str(BERTH_REGISTRY), "migrate", action, str(config)], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert "schema version 0" in migrate("status") and "migrate up" in migrate("status")
    known = migrate("up").split("knows ")[1].split(")")[0]
    assert f"schema version {known} " in migrate("status")


def test_a_database_that_cannot_be_reached_stops_start_up(tmp_path, s3, database):
    database = {**database, "password": "wrong-password"}
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump({"version": 0.1, "storage": {"s3": s3_storage(s3, "never")}, "database": database,
                                      "http": {"addr": "127.0.0.1:5000"}}))
    result = subprocess.run([str(BERTH_REGISTRY), "serve", str(config)], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "database: cannot use PostgreSQL database" in output, output
    assert "wrong-password" not in output


class HAProxy(ServerProcess):
    """haproxy with deploy/cluster/haproxy.cfg, its addresses moved to the test's ports."""

    name = "haproxy"

    def __init__(self, workdir, nodes):
        super().__init__(workdir)
        text = (REPO_ROOT / "deploy" / "cluster" / "haproxy.cfg").read_text()
        text = text.replace("bind 127.0.0.1:5000", f"bind 127.0.0.1:{self.port}")
        for index, reg in enumerate(nodes, start=1):
            text = text.replace(f"127.0.0.1:500{index} check port 510{index}",
                                f"127.0.0.1:{reg.port} check port {reg.debug_port}")
        self.config_path = self.workdir / "haproxy.cfg"
        self.config_path.write_text(text)

    def argv(self):
        return ["haproxy", "-db", "-f", str(self.config_path)]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def cluster_node(workdir: Path, index: int, s3, prefix: str, database: dict) -> RegistryProcess:
    """deploy/cluster/node<index>.yml with the test's bucket, database and ports."""
    config = yaml.safe_load((REPO_ROOT / "deploy" / "cluster" / f"node{index}.yml").read_text())
    reg = RegistryProcess(workdir, "berth")
    reg.debug_port = free_port()
    config["storage"]["s3"] = s3_storage(s3, prefix)
    config["database"] = database
    config["http"]["addr"] = f"127.0.0.1:{reg.port}"
    config["http"]["debug"]["addr"] = f"127.0.0.1:{reg.debug_port}"
    config["log"] = {"level": "info", "accesslog": {"disabled": False}}
    config["health"]["storagedriver"]["interval"] = "1s"
    reg.config = config
    return reg


def test_the_deployed_cluster_serves_through_haproxy_round_robin(tmp_path, s3, database, busybox_layout):
    prefix = f"cluster-{uuid.uuid4().hex[:8]}"
    nodes = [cluster_node(tmp_path / f"node{i}", i, s3, prefix, database) for i in (1, 2, 3)]
    for reg in nodes:
        reg.start()
    proxy = HAProxy(tmp_path / "haproxy", nodes)
    try:
        proxy.start()
        layout = busybox_layout.layout_dir
        ref = f"docker://{proxy.host}/library/busybox:1"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:latest", ref)
        # The push's requests were spread over every node: no stickiness.
        for reg in nodes:
            assert "/v2/library/busybox/" in reg.log_since_start(), f"{reg!r} served none of the push"
        # A node killed with -9: haproxy's checks and retries route around it.
        nodes[1].kill9()
        pulled = tmp_path / "pulled"
        skopeo("copy", "--src-tls-verify=false", ref, f"oci:{pulled}:latest")
        assert_same_blobs(layout_blobs_verified(layout), layout_blobs_verified(pulled), "through haproxy")
    finally:
        proxy.close()
        for reg in nodes:
            reg.close()

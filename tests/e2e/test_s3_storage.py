"""berth-registry with its blobs in S3: the real binary against a real S3 server (Ceph's RADOS
Gateway, started by scripts/test.sh with scripts/s3-server.sh; its env file is named by
BERTH_TEST_S3_ENV), driven by skopeo and raw HTTP.

Each test uses a prefix (`storage.s3.rootdirectory`) of its own in the shared bucket, and the
metadata in a local SQLite file (`database.sqlite.path`).
"""
from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path

import requests
import yaml

from backend_support import MiB, s3, s3_storage  # noqa: F401  (s3 is a fixture)
from images import OCI_MANIFEST, assert_same_blobs, layout_blobs_verified, sha256_digest
from programs import BERTH_REGISTRY, free_port
from registry_http import image_manifest, push_blob, raw
from registry_process import RegistryProcess
from skopeo_support import skopeo_copy



def s3_registry(workdir: Path, s3, prefix: str, database: Path, redirect: bool = True, **kwargs) -> RegistryProcess:
    reg = RegistryProcess(workdir, "berth", **kwargs)
    storage = reg.config["storage"]
    del storage["filesystem"]
    storage["s3"] = s3_storage(s3, prefix)
    storage["redirect"] = {"disable": not redirect}
    reg.config["database"] = {"sqlite": {"path": str(database)}}
    return reg


def test_skopeo_pushes_and_pulls_through_presigned_redirects(tmp_path, s3, busybox_layout):
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    with s3_registry(tmp_path / "node", s3, prefix, tmp_path / "metadata.sqlite") as reg:
        layout = busybox_layout.layout_dir
        skopeo_copy(f"oci:{layout}:latest", reg.ref("library/busybox", "1"), reg)
        pulled = tmp_path / "pulled"
        skopeo_copy(reg.ref("library/busybox", "1"), f"oci:{pulled}:latest", reg)
        assert_same_blobs(layout_blobs_verified(layout), layout_blobs_verified(pulled), "through S3")

        # A blob GET is a 307 to the bucket, readable there without credentials.
        digest, data = next((d, b) for d, b in layout_blobs_verified(layout).items() if len(b) > 1000)
        response = requests.get(f"{reg.url}/v2/library/busybox/blobs/{digest}", allow_redirects=False, timeout=30)
        assert response.status_code == 307, response.text
        location = response.headers["Location"]
        assert location.startswith(s3["S3_ENDPOINT"]) and "X-Amz-Signature=" in location
        assert f"/{prefix}/docker/registry/v2/blobs/sha256/{digest[7:9]}/{digest[7:]}/data" in location
        fetched = requests.get(location, timeout=30)
        assert fetched.status_code == 200 and sha256_digest(fetched.content) == digest
        # HEAD is answered by the node itself.
        head = requests.head(f"{reg.url}/v2/library/busybox/blobs/{digest}", timeout=30)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)


def test_redirects_disabled_stream_through_the_node(tmp_path, s3):
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    with s3_registry(tmp_path / "node", s3, prefix, tmp_path / "metadata.sqlite", redirect=False) as reg:
        data = os.urandom(7 * MiB + 3)
        digest = push_blob(reg, "app", data)
        whole = requests.get(f"{reg.url}/v2/app/blobs/{digest}", allow_redirects=False, timeout=60)
        assert whole.status_code == 200 and whole.content == data
        part = requests.get(f"{reg.url}/v2/app/blobs/{digest}", headers={"Range": "bytes=5242870-5242889"}, timeout=60)
        assert part.status_code == 206 and part.content == data[5242870:5242890]


def test_a_chunked_upload_moves_between_two_nodes(tmp_path, s3):
    """Two berth-registry processes on one bucket and one metadata file: each PATCH lands on the
    other node, and the blob comes out whole."""
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    database = tmp_path / "metadata.sqlite"
    with s3_registry(tmp_path / "a", s3, prefix, database, redirect=False) as a, \
            s3_registry(tmp_path / "b", s3, prefix, database, redirect=False) as b:
        data = os.urandom(13 * MiB + 12345)
        digest = sha256_digest(data)
        started = requests.post(f"{a.url}/v2/app/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text

        def path_of(location):
            return location if location.startswith("/") else "/" + location.split("/", 3)[3]

        path = path_of(started.headers["Location"])
        cuts = [0, 6 * MiB, 6 * MiB + 100, 11 * MiB]
        for index, (start, end) in enumerate(zip(cuts, cuts[1:])):
            node = (b, a)[index % 2]
            response = requests.patch(f"{node.url}{path}", data=data[start:end], timeout=60, headers={
                "Content-Type": "application/octet-stream", "Content-Range": f"{start}-{end - 1}"})
            assert response.status_code == 202, response.text
            assert response.headers["Range"] == f"0-{end - 1}"
            path = path_of(response.headers["Location"])
        sep = "&" if "?" in path else "?"
        done = requests.put(f"{b.url}{path}{sep}digest={digest}", data=data[cuts[-1]:], timeout=60,
                            headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        for node in (a, b):
            assert requests.get(f"{node.url}/v2/app/blobs/{digest}", timeout=60).content == data


def test_wrong_credentials_stop_start_up_naming_s3s_error(tmp_path, s3):
    config = {
        "version": 0.1,
        "storage": {"s3": s3_storage(s3, "never", accesskey="NOSUCHACCESSKEY")},
        "database": {"sqlite": {"path": str(tmp_path / "metadata.sqlite")}},
        "http": {"addr": f"127.0.0.1:{free_port()}"},
    }
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([str(BERTH_REGISTRY), "serve", str(path)], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "InvalidAccessKeyId" in output and s3["S3_BUCKET"] in output, output
    assert s3["S3_SECRET_KEY"] not in output


def test_s3_without_a_metadata_file_is_refused_by_verify_config(tmp_path, s3):
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump({"version": 0.1, "storage": {"s3": s3_storage(s3, "x", chunksize=1024)}}))
    result = subprocess.run([str(BERTH_REGISTRY), "verify-config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "database.sqlite.path" in result.stderr and "storage.s3.chunksize" in result.stderr, result.stderr


def test_a_bucket_distribution_wrote_is_imported_and_served_in_place(tmp_path, s3, busybox_layout):
    """CNCF Distribution 2.8.2 with its own s3 driver pushes to the bucket; berth-registry
    imports that bucket (`import --config`) and serves the same objects, byte for byte."""
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    # An AWS_CA_BUNDLE in the environment makes Distribution's AWS SDK refuse to start (its HTTP
    # transport cannot take one); empty, the SDK ignores it.
    distribution = RegistryProcess(tmp_path / "distribution", "distribution", env={"AWS_CA_BUNDLE": ""})
    storage = distribution.config["storage"]
    del storage["filesystem"]
    storage["s3"] = {"accesskey": s3["S3_ACCESS_KEY"], "secretkey": s3["S3_SECRET_KEY"], "region": "us-east-1",
                     "regionendpoint": s3["S3_ENDPOINT"], "bucket": s3["S3_BUCKET"], "rootdirectory": f"/{prefix}",
                     "secure": False, "v4auth": True}
    storage["redirect"] = {"disable": True}
    layout = busybox_layout.layout_dir
    with distribution:
        skopeo_copy(f"oci:{layout}:latest", distribution.ref("library/busybox", "1"), distribution)
        skopeo_copy(f"oci:{layout}:latest", distribution.ref("team/app", "v2"), distribution)

    berth = s3_registry(tmp_path / "berth", s3, prefix, tmp_path / "metadata.sqlite", redirect=False)
    config = berth.write_config()
    imported = subprocess.run([str(BERTH_REGISTRY), "import", "--config", str(config)], capture_output=True, text=True,
                              timeout=120)
    assert imported.returncode == 0, imported.stderr
    with berth:
        pulled = tmp_path / "pulled"
        skopeo_copy(berth.ref("library/busybox", "1"), f"oci:{pulled}:latest", berth)
        assert_same_blobs(layout_blobs_verified(layout), layout_blobs_verified(pulled), "imported from Distribution's bucket")
        assert requests.get(f"{berth.url}/v2/team/app/tags/list", timeout=30).json()["tags"] == ["v2"]
        catalog = requests.get(f"{berth.url}/v2/_catalog", timeout=30).json()["repositories"]
        assert catalog == ["library/busybox", "team/app"]


def test_a_tag_moved_on_one_node_is_served_by_the_other_within_the_cache_bound(tmp_path, s3):
    """Nodes cache what a tag points at for at most a second (docs/registry.md); a tag moved on
    one node is served by the other after that, never later."""
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    database = tmp_path / "metadata.sqlite"
    with s3_registry(tmp_path / "a", s3, prefix, database) as a, s3_registry(tmp_path / "b", s3, prefix, database) as b:
        def push(node, layer: bytes) -> str:
            config = b'{"architecture":"amd64","os":"linux"}'
            config_digest, layer_digest = push_blob(node, "app", config), push_blob(node, "app", layer)
            manifest = image_manifest(config_digest, len(config), [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": len(layer)}])
            reply = raw(node, "PUT", "/v2/app/manifests/v1", manifest, {"Content-Type": OCI_MANIFEST})
            assert reply.status == 201, reply
            return sha256_digest(manifest)

        def served(node) -> str:
            reply = requests.get(f"{node.url}/v2/app/manifests/v1", headers={"Accept": OCI_MANIFEST}, timeout=30)
            assert reply.status_code == 200, reply.text
            return reply.headers["Docker-Content-Digest"]

        first = push(a, b"first layer")
        assert served(b) == first          # now in b's cache
        second = push(a, b"second layer")
        moved = time.monotonic()
        while served(b) != second:
            assert time.monotonic() - moved < 1.0 + 2.0, "node b still serves the old digest past the bound"
            time.sleep(0.05)

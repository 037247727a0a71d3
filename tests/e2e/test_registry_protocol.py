"""The distribution-spec workflows (pull, push, content discovery, content management) against
the real berth-registry, with the checks of the OCI conformance suite v1.1.1 (status codes,
headers, error codes), driven by raw HTTP so that nothing is hidden by a client library."""
import json

import pytest

from images import OCI_INDEX, OCI_MANIFEST, sha256_digest
from registry_client import BerthRegistry

EMPTY = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(b"{}"), "size": 2}


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    registry = BerthRegistry(tmp_path_factory.mktemp("protocol"))
    yield registry
    registry.stop()


# Push

def test_chunked_upload_with_status_and_out_of_order_chunk(reg):
    data = bytes(range(256)) * 400
    location = reg.start_upload("push/chunked")
    first = reg.request("PATCH", location, data[:50000], {"Content-Range": "0-49999", "Content-Type": "application/octet-stream"})
    assert first.status == 202
    assert first.header("Range") == "0-49999"
    assert first.header("Docker-Upload-UUID")
    location = first.header("Location")
    status = reg.request("GET", location)
    assert status.status == 204
    assert status.header("Range") == "0-49999"
    overlapping = reg.request("PATCH", location, data[40000:60000], {"Content-Range": "40000-59999"})
    assert overlapping.status == 416
    gap = reg.request("PATCH", location, data[60000:70000], {"Content-Range": "60000-69999"})
    assert gap.status == 416
    second = reg.request("PATCH", location, data[50000:], {"Content-Range": f"50000-{len(data) - 1}"})
    assert second.status == 202
    done = reg.request("PUT", f"{location}?digest={sha256_digest(data)}")
    assert done.status == 201
    assert done.header("Location").endswith(f"/v2/push/chunked/blobs/{sha256_digest(data)}")
    assert done.header("Docker-Content-Digest") == sha256_digest(data)
    assert reg.request("GET", f"/v2/push/chunked/blobs/{sha256_digest(data)}").body == data
    after = reg.request("PATCH", location, b"more", {"Content-Range": f"{len(data)}-{len(data) + 3}"})
    assert after.status == 404 and after.error_code() == "BLOB_UPLOAD_UNKNOWN"


def test_post_then_put_with_body_and_cancel(reg):
    data = b"monolithic in two steps"
    location = reg.start_upload("push/twostep")
    reply = reg.request("PUT", f"{location}?digest={sha256_digest(data)}", data, {"Content-Type": "application/octet-stream"})
    assert reply.status == 201
    other = reg.start_upload("push/twostep")
    assert reg.request("DELETE", other).status == 204
    assert reg.request("GET", other).error_code() == "BLOB_UPLOAD_UNKNOWN"


def test_wrong_digest_stores_nothing(reg):
    wrong = sha256_digest(b"something else")
    reply = reg.request("POST", f"/v2/push/wrong/blobs/uploads/?digest={wrong}", b"content")
    assert reply.status == 400 and reply.error_code() == "DIGEST_INVALID"
    assert reg.request("HEAD", f"/v2/push/wrong/blobs/{wrong}").status == 404
    location = reg.start_upload("push/wrong")
    assert reg.request("PATCH", location, b"abc").status == 202
    assert reg.request("PUT", f"{location}?digest={wrong}").error_code() == "DIGEST_INVALID"
    assert reg.request("HEAD", f"/v2/push/wrong/blobs/{sha256_digest(b'abc')}").status == 404


def test_unknown_upload_and_missing_digest_parameter(reg):
    unknown = "/v2/push/x/blobs/uploads/00000000-0000-0000-0000-000000000000"
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        reply = reg.request(method, unknown + ("?digest=" + sha256_digest(b"") if method == "PUT" else ""), b"")
        assert reply.status == 404 and reply.error_code() == "BLOB_UPLOAD_UNKNOWN", method
    location = reg.start_upload("push/x")
    assert reg.request("PUT", location, b"x").error_code() == "DIGEST_INVALID"


def test_content_length_mismatch_is_refused_and_changes_nothing(reg):
    location = reg.start_upload("push/length")
    assert reg.request("PATCH", location, b"12345", {"Content-Range": "0-4"}).status == 202
    bad = reg.request("PATCH", location, b"678", {"Content-Range": "5-9", "Content-Length": "3"})
    assert bad.status == 416
    assert reg.request("GET", location).header("Range") == "0-4"


def test_cross_repository_mount(reg):
    digest = reg.push_blob("mount/source", b"shared layer")
    mounted = reg.request("POST", f"/v2/mount/target/blobs/uploads/?mount={digest}&from=mount/source")
    assert mounted.status == 201
    assert mounted.header("Location").endswith(f"/v2/mount/target/blobs/{digest}")
    assert reg.request("HEAD", f"/v2/mount/target/blobs/{digest}").status == 200
    # Automatic content discovery: mount without `from` of a blob the registry holds.
    auto = reg.request("POST", f"/v2/mount/auto/blobs/uploads/?mount={digest}")
    assert auto.status == 201
    # Unknown blob or source: an upload session instead.
    missing = reg.request("POST", f"/v2/mount/target2/blobs/uploads/?mount={sha256_digest(b'nope')}&from=mount/source")
    assert missing.status == 202 and missing.header("Location")
    not_linked = reg.request("POST", f"/v2/mount/target3/blobs/uploads/?mount={digest}&from=mount/elsewhere")
    assert not_linked.status == 202


# Pull

def test_pull_manifest_and_blob_with_headers_and_ranges(reg):
    digest, body = reg.push_image("pull/app", "v1", layers=(b"0123456789",))
    for ref in ("v1", digest):
        get = reg.request("GET", f"/v2/pull/app/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert get.status == 200 and get.body == body
        assert get.header("Content-Type") == OCI_MANIFEST
        assert get.header("Docker-Content-Digest") == digest
        head = reg.request("HEAD", f"/v2/pull/app/manifests/{ref}")
        assert head.status == 200 and head.header("Content-Length") == str(len(body)) and head.body == b""
    layer = sha256_digest(b"0123456789")
    part = reg.request("GET", f"/v2/pull/app/blobs/{layer}", headers={"Range": "bytes=2-5"})
    assert part.status == 206 and part.body == b"2345"
    assert part.header("Content-Range") == "bytes 2-5/10"
    beyond = reg.request("GET", f"/v2/pull/app/blobs/{layer}", headers={"Range": "bytes=50-60"})
    assert beyond.status == 416 and beyond.header("Content-Range") == "bytes */10"
    assert reg.request("GET", "/v2/pull/app/manifests/nope").error_code() == "MANIFEST_UNKNOWN"
    assert reg.request("GET", f"/v2/pull/app/blobs/{sha256_digest(b'none')}").error_code() == "BLOB_UNKNOWN"
    # A blob of another repository is not served here.
    assert reg.request("GET", f"/v2/pull/other/blobs/{layer}").status == 404


# Manifests that must be refused

def test_malformed_oversized_and_dangling_manifests(reg):
    put = lambda body, ct=OCI_MANIFEST, ref="bad": reg.request("PUT", f"/v2/bad/app/manifests/{ref}", body, {"Content-Type": ct})
    assert put(b"{not json").error_code() == "MANIFEST_INVALID"
    assert put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST}).encode()).error_code() == "MANIFEST_INVALID"
    big = put(b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}")
    assert big.status == 413
    missing = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256_digest(b"absent"), "size": 6},
               "layers": []}
    reply = put(json.dumps(missing).encode())
    assert reply.status == 400 and reply.error_code() == "MANIFEST_BLOB_UNKNOWN"
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX,
             "manifests": [{"mediaType": OCI_MANIFEST, "digest": sha256_digest(b"no manifest"), "size": 11}]}
    reply = put(json.dumps(index).encode(), OCI_INDEX)
    assert reply.status == 400 and reply.error_code() == "MANIFEST_UNKNOWN"
    wrong_ref = put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": EMPTY, "layers": []}).encode(),
                    ref=sha256_digest(b"different"))
    assert wrong_ref.error_code() == "DIGEST_INVALID"
    assert reg.request("GET", "/v2/bad/app/tags/list").status == 404, "nothing was tagged"


@pytest.mark.parametrize("path", ["/v2/../etc/manifests/latest", "/v2/UPPER/manifests/latest",
                                  "/v2/" + "a" * 300 + "/manifests/latest", "/v2/a/%2e%2e/manifests/latest",
                                  "/v2/a/%2e%2e/b/blobs/uploads/"])
def test_invalid_names(reg, path):
    reply = reg.request("GET" if "uploads" not in path else "POST", path)
    assert reply.status in (400, 404)
    assert reply.error_code() in ("NAME_INVALID", "NAME_UNKNOWN")
    assert set(reply.json()["errors"][0]) >= {"code", "message"}


@pytest.mark.parametrize("digest", ["sha256:zzz", "sha256:" + "A" * 64, "md5:abcd", "sha256"])
def test_invalid_digests(reg, digest):
    reply = reg.request("GET", f"/v2/some/repo/blobs/{digest}")
    assert reply.status == 400 and reply.error_code() == "DIGEST_INVALID"


# Content discovery

def test_tags_and_catalog_paginate_with_link(reg):
    for tag in ("c", "a", "b", "d"):
        reg.push_image("disc/app", tag)
    full = reg.request("GET", "/v2/disc/app/tags/list").json()
    assert full == {"name": "disc/app", "tags": ["a", "b", "c", "d"]}
    page = reg.request("GET", "/v2/disc/app/tags/list?n=2")
    assert page.json()["tags"] == ["a", "b"]
    assert page.header("Link") == '</v2/disc/app/tags/list?n=2&last=b>; rel="next"'
    rest = reg.request("GET", "/v2/disc/app/tags/list?n=2&last=b")
    assert rest.json()["tags"] == ["c", "d"] and rest.header("Link") is None
    assert reg.request("GET", "/v2/disc/unknown/tags/list").error_code() == "NAME_UNKNOWN"
    catalog = reg.request("GET", "/v2/_catalog?n=1").json()["repositories"]
    assert len(catalog) == 1
    assert "disc/app" in reg.request("GET", "/v2/_catalog").json()["repositories"]


def test_referrers_with_artifact_type_filter(reg):
    subject_digest, subject_body = reg.push_image("ref/app", "v1")
    subject = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": len(subject_body)}
    assert reg.push_blob("ref/app", b"{}") == EMPTY["digest"]
    artifacts = {}
    for kind in ("application/vnd.example.sbom", "application/vnd.example.sig"):
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": kind, "config": EMPTY,
                           "layers": [EMPTY], "subject": subject, "annotations": {"kind": kind}}).encode()
        reply = reg.request("PUT", f"/v2/ref/app/manifests/{sha256_digest(body)}", body, {"Content-Type": OCI_MANIFEST})
        assert reply.status == 201
        assert reply.header("OCI-Subject") == subject_digest
        artifacts[kind] = sha256_digest(body)
    listing = reg.request("GET", f"/v2/ref/app/referrers/{subject_digest}")
    assert listing.status == 200 and listing.header("Content-Type") == OCI_INDEX
    index = listing.json()
    assert index["schemaVersion"] == 2 and index["mediaType"] == OCI_INDEX
    assert {m["digest"] for m in index["manifests"]} == set(artifacts.values())
    assert all(m["annotations"]["kind"] == m["artifactType"] for m in index["manifests"])
    filtered = reg.request("GET", f"/v2/ref/app/referrers/{subject_digest}?artifactType=application/vnd.example.sig")
    assert filtered.header("OCI-Filters-Applied") == "artifactType"
    assert [m["digest"] for m in filtered.json()["manifests"]] == [artifacts["application/vnd.example.sig"]]
    empty = reg.request("GET", f"/v2/ref/app/referrers/{sha256_digest(b'unknown')}")
    assert empty.status == 200 and empty.json()["manifests"] == []


# Content management

def test_deletes(reg):
    digest, _ = reg.push_image("del/app", "v1", layers=(b"delete me",))
    reg.push_image("del/app", "v2", layers=(b"delete me",))
    assert reg.request("DELETE", "/v2/del/app/manifests/v2").status == 202
    assert reg.request("GET", "/v2/del/app/manifests/v2").status == 404
    assert reg.request("GET", "/v2/del/app/manifests/v1").status == 200, "deleting a tag keeps other tags"
    assert reg.request("DELETE", f"/v2/del/app/manifests/{digest}").status == 202
    assert reg.request("GET", f"/v2/del/app/manifests/{digest}").error_code() == "MANIFEST_UNKNOWN"
    assert reg.request("GET", "/v2/del/app/manifests/v1").status == 404, "tags of a deleted manifest go with it"
    layer = sha256_digest(b"delete me")
    assert reg.request("DELETE", f"/v2/del/app/blobs/{layer}").status == 202
    assert reg.request("HEAD", f"/v2/del/app/blobs/{layer}").status == 404
    assert reg.request("DELETE", f"/v2/del/app/blobs/{layer}").error_code() == "BLOB_UNKNOWN"


def test_deletes_disabled_by_default(tmp_path):
    registry = BerthRegistry(tmp_path, delete=False)
    try:
        registry.push_image("nodel/app", "v1")
        reply = registry.request("DELETE", "/v2/nodel/app/manifests/v1")
        assert reply.status == 405 and reply.error_code() == "UNSUPPORTED"
        assert registry.request("GET", "/v2/nodel/app/manifests/v1").status == 200
    finally:
        registry.stop()

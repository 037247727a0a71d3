"""Tags on a push by digest (`?tag=`), sparse indexes and Distribution's `validation` keys.

Spec: opencontainers/distribution-spec, "Pushing Manifests" (the `tag` query parameter and the
`OCI-Tag` response header). Distribution 3's `validation.manifests.{urls,indexes}` keys.
"""
import hashlib
import http.client
import json
import subprocess

import pytest

from images import OCI_INDEX, OCI_MANIFEST, multiarch_layout
from registry_http import EMPTY, EMPTY_DESC, assert_error, image_manifest, push_blob, raw
from registry_process import registry_impl
from skopeo_support import skopeo

pytestmark = pytest.mark.skipif(registry_impl() != "berth", reason="Berth's behaviour and keys")

NONDISTRIBUTABLE = "application/vnd.oci.image.layer.nondistributable.v1.tar"


def put(reg, path, body, media_type=OCI_MANIFEST):
    """PUT with http.client, keeping every response header (OCI-Tag may repeat)."""
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=30)
    try:
        conn.request("PUT", path, body=body, headers={"Content-Type": media_type})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def oci_tags(headers):
    values = []
    for name, value in headers:
        if name.lower() == "oci-tag":
            values += [v.strip() for v in value.split(",") if v.strip()]
    return values


def small_image(reg, repo, seed: bytes):
    layer = push_blob(reg, repo, b"layer " + seed)
    config = push_blob(reg, repo, b'{"seed":"' + seed + b'"}')
    return image_manifest(config, len(b'{"seed":"' + seed + b'"}'),
                          [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                            "size": len(b"layer " + seed)}])


def tags_of(reg, repo):
    r = raw(reg, "GET", f"/v2/{repo}/tags/list")
    return json.loads(r.body).get("tags") or [] if r.status == 200 else []


def test_push_by_digest_with_twelve_tags(make_registry):
    reg = make_registry()
    manifest = small_image(reg, "app", b"one")
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    tags = [f"1.{i}" for i in range(11)] + ["latest"]
    status, headers, body = put(reg, f"/v2/app/manifests/{digest}?" + "&".join(f"tag={t}" for t in tags), manifest)
    assert status == 201, body
    assert sorted(oci_tags(headers)) == sorted(tags)
    assert sorted(tags_of(reg, "app")) == sorted(tags)
    for tag in tags:
        r = raw(reg, "GET", f"/v2/app/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.body == manifest and r.headers["docker-content-digest"] == digest, (tag, r)


def test_one_bad_tag_or_too_many_tags_refuses_all(make_registry):
    reg = make_registry()
    manifest = small_image(reg, "app", b"two")
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    query = "&".join(f"tag=v{i}" for i in range(11)) + "&tag=-bad"
    status, _, body = put(reg, f"/v2/app/manifests/{digest}?{query}", manifest)
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "TAG_INVALID", body
    assert tags_of(reg, "app") == []
    assert raw(reg, "GET", f"/v2/app/manifests/{digest}").status == 404, "nothing recorded"
    too_many = "&".join(f"tag=t{i}" for i in range(101))
    status, _, body = put(reg, f"/v2/app/manifests/{digest}?{too_many}", manifest)
    assert status == 414 and json.loads(body)["errors"][0]["code"] == "TAG_INVALID", body
    assert tags_of(reg, "app") == []


def test_sha512_manifest_keeps_its_digest_under_each_tag(make_registry):
    reg = make_registry()
    manifest = small_image(reg, "app", b"three")
    digest = "sha512:" + hashlib.sha512(manifest).hexdigest()
    status, headers, body = put(reg, f"/v2/app/manifests/{digest}?tag=a&tag=b", manifest)
    assert status == 201, body
    assert sorted(oci_tags(headers)) == ["a", "b"]
    for tag in ("a", "b"):
        r = raw(reg, "GET", f"/v2/app/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.headers["docker-content-digest"] == digest and r.body == manifest, r


def test_an_immutable_tag_refuses_the_whole_push(make_registry):
    reg = make_registry(extra_config={"immutabletags": [{"repositories": ["prod/**"], "tags": ["v*"]}]})
    first = small_image(reg, "prod/app", b"first")
    assert put(reg, "/v2/prod/app/manifests/v1", first)[0] == 201
    second = small_image(reg, "prod/app", b"second")
    digest = "sha256:" + hashlib.sha256(second).hexdigest()
    status, _, body = put(reg, f"/v2/prod/app/manifests/{digest}?tag=fresh&tag=v1", second)
    assert status == 403 and json.loads(body)["errors"][0]["code"] == "DENIED", body
    assert tags_of(reg, "prod/app") == ["v1"], "no tag of the refused push was recorded"


def sparse_index(reg, repo):
    """An index of two platforms of which only linux/amd64 was pushed; returns (index, present, missing)."""
    present = small_image(reg, repo, b"amd64")
    present_digest = "sha256:" + hashlib.sha256(present).hexdigest()
    assert put(reg, f"/v2/{repo}/manifests/{present_digest}", present)[0] == 201
    missing_digest = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": present_digest, "size": len(present),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": missing_digest, "size": 12,
         "platform": {"os": "linux", "architecture": "arm64"}}]}).encode()
    return index, present_digest, missing_digest


def test_sparse_index_refused_by_default(make_registry):
    reg = make_registry()
    index, _, missing = sparse_index(reg, "multi")
    r = raw(reg, "PUT", "/v2/multi/manifests/v1", index, {"Content-Type": OCI_INDEX})
    assert_error(r, 400, ("MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"))
    assert tags_of(reg, "multi") == []


@pytest.mark.parametrize("indexes", [{"platforms": "none"},
                                     {"platforms": "list", "platformlist": [{"os": "linux", "architecture": "amd64"}]}])
def test_sparse_index_accepted_when_configured(make_registry, indexes, tmp_path):
    reg = make_registry(extra_config={"validation": {"manifests": {"indexes": indexes, "urls": {"allow": ["^https://"]}}}})
    index, present, missing = sparse_index(reg, "multi")
    r = raw(reg, "PUT", "/v2/multi/manifests/v1", index, {"Content-Type": OCI_INDEX})
    assert r.status == 201, r
    assert raw(reg, "GET", f"/v2/multi/manifests/{present}").status == 200
    assert_error(raw(reg, "GET", f"/v2/multi/manifests/{missing}"), 404, "MANIFEST_UNKNOWN")
    # Garbage collection keeps the present child of the tagged index and does not trip on the missing one.
    result = subprocess.run([str(reg.binary), "garbage-collect", "--delete-untagged", str(reg.config_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert raw(reg, "GET", f"/v2/multi/manifests/{present}").status == 200
    assert raw(reg, "GET", "/v2/multi/manifests/v1").status == 200


def test_platform_list_still_requires_the_listed_platforms(make_registry):
    reg = make_registry(extra_config={"validation": {"manifests": {"indexes": {
        "platforms": "list", "platformlist": [{"os": "linux", "architecture": "arm64"}]}}}})
    index, _, _ = sparse_index(reg, "multi")
    r = raw(reg, "PUT", "/v2/multi/manifests/v1", index, {"Content-Type": OCI_INDEX})
    assert_error(r, 400, ("MANIFEST_UNKNOWN", "MANIFEST_BLOB_UNKNOWN"))


def foreign_layer_manifest(reg, repo, url):
    config = push_blob(reg, repo, EMPTY)
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {**EMPTY_DESC, "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config},
                       "layers": [{"mediaType": NONDISTRIBUTABLE, "size": 1234, "urls": [url],
                                   "digest": "sha256:" + hashlib.sha256(b"elsewhere").hexdigest()}]}).encode()


@pytest.mark.parametrize("validation, url, accepted", [
    (None, "https://layers.example.com/a", True),                       # as Distribution 2.8: any http(s) URL
    (None, "ftp://layers.example.com/a", False),
    ({"manifests": {"urls": {}}}, "https://layers.example.com/a", False),  # Distribution 3: empty allow and deny allow none
    ({"manifests": {"urls": {"allow": ["^https://layers\\.example\\.com/"]}}}, "https://layers.example.com/a", True),
    ({"manifests": {"urls": {"allow": ["^https://"], "deny": ["example\\.com"]}}}, "https://layers.example.com/a", False),
    ({"disabled": True}, "https://anything.example/a", True),
])
def test_layer_urls_follow_allow_and_deny(make_registry, validation, url, accepted):
    reg = make_registry(extra_config={"validation": validation} if validation else None)
    manifest = foreign_layer_manifest(reg, "app", url)
    r = raw(reg, "PUT", "/v2/app/manifests/v1", manifest, {"Content-Type": OCI_MANIFEST})
    if accepted:
        assert r.status == 201, r
    else:
        assert_error(r, 400, "MANIFEST_INVALID")
        assert tags_of(reg, "app") == []


def test_skopeo_copies_one_platform_with_the_whole_index(make_registry, tmp_path):
    index, manifests = multiarch_layout(tmp_path / "layout")
    strict = make_registry()
    sparse = make_registry(extra_config={"validation": {"manifests": {"indexes": {"platforms": "none"},
                                                                      "urls": {"allow": ["^https://"]}}}})
    for reg, ok in ((strict, False), (sparse, True)):
        result = skopeo("copy", "--multi-arch", "index-only", "--dest-tls-verify=false",
                        f"oci:{tmp_path / 'layout'}:multi", f"docker://{reg.host}/multi:1", check=False)
        assert (result.returncode == 0) == ok, result.stderr
    r = raw(sparse, "GET", "/v2/multi/manifests/1", headers={"Accept": OCI_INDEX})
    assert r.status == 200 and r.headers["docker-content-digest"] == index["digest"], r


def test_a_manifest_refused_for_its_references_stores_nothing(make_registry):
    reg = make_registry()
    config = push_blob(reg, "app", b'{"refused":true}')
    missing = "sha256:" + hashlib.sha256(b"never uploaded").hexdigest()
    manifest = image_manifest(config, len(b'{"refused":true}'),
                              [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing, "size": 14}])
    digest = hashlib.sha256(manifest).hexdigest()
    status, _, body = put(reg, "/v2/app/manifests/v1?tag=also", manifest)
    assert status == 400 and json.loads(body)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN", body
    assert not (reg.root_dir / "docker/registry/v2/blobs/sha256" / digest[:2] / digest).exists()
    assert tags_of(reg, "app") == []

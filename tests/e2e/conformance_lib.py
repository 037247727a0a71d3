"""Shared pieces of the conformance port (test_conformance.py): setup.go's test data, the Go
globals (client, lastResponse ...), the spec registry and small assertion helpers."""
import base64
import json
import os
import random
import secrets
import string
import uuid
from urllib.parse import urlsplit

import pytest

from images import sha256_digest

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
ERROR_CODES = ["BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
               "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "MANIFEST_UNVERIFIED",
               "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "TAG_INVALID", "UNAUTHORIZED", "DENIED",
               "UNSUPPORTED"]
# echo 'you bothered to find out what was in here. Congratulations!' > test.txt; tar czvf ... | base64
LAYER_B64 = ("H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
             "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
             "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA")
ANNOTATION = "org.opencontainers.conformance.test"
EMPTY_LAYER_TAG, TEST_TAG = "emptylayer", "tagtest0"


def marshal(obj) -> bytes:  # json.MarshalIndent(v, "", "\t")
    return json.dumps(obj, indent="\t").encode()


def desc(media_type, content, **extra):
    return {"mediaType": media_type, "digest": sha256_digest(content), "size": len(content), **extra}


class Blob:
    def __init__(self, content: bytes):
        self.content, self.digest, self.length = content, sha256_digest(content), str(len(content))


class Data:
    """setup.go's init(): configs/manifests per workflow, test blobs, referrer artifacts."""

    def __init__(self):
        seed = secrets.randbits(32)
        letters = string.digits + string.ascii_letters + "-"
        self.configs = [Blob(marshal({"author": "".join(secrets.choice(letters) for _ in range(16)),
                                      "architecture": "amd64", "os": "linux",
                                      "rootfs": {"type": "layers", "diff_ids": []}})) for _ in range(5)]
        self.layer = Blob(base64.b64decode(LAYER_B64))
        layers = [desc("application/vnd.oci.image.layer.v1.tar+gzip", self.layer.content)]
        self.manifests = [Blob(marshal({
            "schemaVersion": 2, "mediaType": MANIFEST,
            "config": desc("application/vnd.oci.image.config.v1+json", c.content,
                           data=base64.b64encode(c.content).decode(),  # must be the config content
                           newUnspecifiedField=base64.b64encode(b"hello world").decode()),
            "layers": layers})) for c in self.configs]
        c1 = self.configs[1].content
        self.empty_layer_manifest = Blob(marshal({"schemaVersion": 2, "config": desc(
            "application/vnd.oci.image.config.v1+json", c1, data=base64.b64encode(c1).decode(),
            newUnspecifiedField=base64.b64encode(b"hello world").decode()), "layers": []}))
        self.nonexistent_manifest = ".INVALID_MANIFEST_NAME"
        self.invalid_manifest = b"blablabla"
        self.blob_a = Blob(random.Random(seed + 1).randbytes(42))
        self.setup_chunked_blob(42, seed)
        self.empty_json = Blob(b"{}")
        empty = desc("application/vnd.oci.empty.v1+json", b"{}")
        self.ref_blob_a = Blob(b"NHL Peanut Butter on my NHL bagel")
        self.ref_blob_b = Blob(b"NBA Strawberry Jam on my NBA croissant")
        self.type_a, self.type_b = "application/vnd.nhl.peanut.butter.bagel", "application/vnd.nba.strawberry.jam.croissant"
        self.type_index = "application/vnd.food.stand"
        self.annotation_values = {}
        subject4 = desc(MANIFEST, self.manifests[4].content)

        def artifact(note, subject=subject4, **fields):
            m = {"schemaVersion": 2, "mediaType": MANIFEST, **fields, "subject": subject}
            if note:
                m["annotations"] = {ANNOTATION: note}
            blob = Blob(marshal(m))
            if note:
                self.annotation_values[blob.digest] = note
            return blob

        # config.mediaType = artifactType, and artifactType with the empty JSON config
        self.refs_a_config = artifact("test config a", config=desc(self.type_a, self.ref_blob_a.content), layers=[empty])
        self.refs_b_config = artifact("test config b", config=desc(self.type_b, self.ref_blob_b.content), layers=[empty])
        self.refs_a_layer = artifact("test layer a", artifactType=self.type_a, config=empty,
                                     layers=[desc(self.type_a, self.ref_blob_a.content)])
        self.refs_b_layer = artifact("test layer b", artifactType=self.type_b, config=empty,
                                     layers=[desc(self.type_b, self.ref_blob_b.content)])
        # same as B but with a subject that is never pushed
        self.refs_c_layer = artifact(None, subject=desc(MANIFEST, self.manifests[3].content),
                                     artifactType=self.type_b, config=empty,
                                     layers=[desc(self.type_b, self.ref_blob_b.content)])
        self.refs_index = Blob(marshal({
            "schemaVersion": 2, "mediaType": INDEX, "artifactType": self.type_index,
            "manifests": [desc(MANIFEST, self.refs_a_config.content), desc(MANIFEST, self.refs_a_layer.content)],
            "subject": subject4, "annotations": {ANNOTATION: "test index"}}))
        self.annotation_values[self.refs_index.digest] = "test index"
        self.dummy_digest = sha256_digest(b"hello world")

    def setup_chunked_blob(self, size, seed):
        self.blob_b = Blob(random.Random(seed + 2).randbytes(size))
        b = self.blob_b.content
        self.chunk1, self.chunk2 = b[:size // 2 + 1], b[size // 2 + 1:]
        self.chunk1_range = f"0-{len(self.chunk1) - 1}"
        self.chunk2_range = f"{len(self.chunk1)}-{len(b) - 1}"


class Suite:
    """The Go globals: client, data, lastResponse and friends."""

    def __init__(self, registry):
        self.reg, self.http, self.d = registry, registry.session(), Data()
        self.name = f"oci-conformance/repo-{uuid.uuid4().hex[:8]}"
        self.crossmount = f"conformance-{uuid.uuid4()}"
        auto = os.environ.get("E2E_AUTOMATIC_CROSSMOUNT")
        self.auto_crossmount = registry.impl == "berth" if auto is None else auto.lower() in ("1", "true")
        self.referrers = registry.impl == "berth"
        self.last = self.prev = None
        self.tag, self.tag_list, self.num_tags = None, [], 4
        self.tag_to_delete, self.blob_delete_allowed = None, True

    def do(self, method, path, name=None, body=None, headers=None, params=None):
        if not path.startswith("/"):
            raise AssertionError(f"no Location to follow: {path!r}")
        path = path.replace("<name>", name or self.name)
        return self.http.request(method, self.reg.url + path, data=body, headers=headers or {}, params=params,
                                 allow_redirects=False, timeout=30)

    def put_blob(self, blob, name=None):
        """POST then PUT ?digest= (the setup pattern); returns the PUT response."""
        loc = rel(self.do("POST", "/v2/<name>/blobs/uploads/", name))
        return self.do("PUT", loc, name, blob.content, {"Content-Type": "application/octet-stream"},
                       {"digest": blob.digest})

    def put_manifest(self, ref, blob, media_type=MANIFEST):
        return self.do("PUT", f"/v2/<name>/manifests/{ref}", body=blob.content, headers={"Content-Type": media_type})


def rel(resp) -> str:
    """reggie's GetRelativeLocation: path and query of the Location header."""
    loc = resp.headers.get("Location", "")
    parts = urlsplit(loc)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ok2xx(resp):
    assert 200 <= resp.status_code < 300, f"{resp.request.method} {resp.url} -> {resp.status_code} {resp.text[:500]}"


def status_in(resp, *codes):
    assert resp.status_code in codes, f"{resp.request.method} {resp.url} -> {resp.status_code} (want {codes}) {resp.text[:500]}"


def ok2xx_or(resp, *codes):
    assert 200 <= resp.status_code < 300 or resp.status_code in codes, \
        f"{resp.request.method} {resp.url} -> {resp.status_code} {resp.text[:500]}"


def errors_of(resp):
    body = resp.json()
    assert isinstance(body.get("errors"), list) and body["errors"], body
    return body["errors"]


def run_only_if(cond):
    if not cond:
        pytest.skip("you have skipped this test.")


SPECS = []


def spec(workflow, context, title, needs_referrers=False, distribution_bug=None):
    """Register a Go `Specify` in order. needs_referrers: skipped where the referrers API is missing.
    distribution_bug: reason Distribution 2.8.2 is known to fail it (strict xfail there)."""
    def register(fn):
        name = f"{workflow} / {context} / {title}"
        n = sum(1 for s in SPECS if s[0].split(" #")[0] == name)
        SPECS.append((name + (f" #{n + 1}" if n else ""), fn, needs_referrers, distribution_bug))
        return fn
    return register


# ----- request helpers shared by the specs

OCTET = {"Content-Type": "application/octet-stream"}


def head_or_get_blob(s, method, digest, want):
    resp = s.do(method, f"/v2/<name>/blobs/{digest}")
    status_in(resp, want)
    return resp


def manifest_req(s, method, ref, want, expect_digest=None):
    resp = s.do(method, f"/v2/<name>/manifests/{ref}", headers={"Accept": MANIFEST})
    status_in(resp, want)
    if expect_digest and resp.headers.get("Docker-Content-Digest"):
        assert resp.headers["Docker-Content-Digest"] == expect_digest


def delete(s, kind, ref, *also):
    resp = s.do("DELETE", f"/v2/<name>/{kind}/{ref}")
    ok2xx_or(resp, 405, *also)
    return resp


def start_chunked(s):
    resp = s.do("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
    assert resp.headers.get("Location")
    return resp


def patch(s, location, chunk, content_range):
    return s.do("PATCH", location, body=chunk, headers={**OCTET, "Content-Range": content_range})


def tags_of(resp):
    try:
        return resp.json().get("tags") or []
    except ValueError:
        return []


def referrers(s, digest, params=None):
    resp = s.do("GET", f"/v2/<name>/referrers/{digest}", params=params)
    status_in(resp, 200)
    assert resp.headers.get("Content-Type") == INDEX
    return resp, resp.json().get("manifests") or []


def check_annotations(s, manifests):
    for m in manifests:
        assert len(m.get("annotations") or {}) == 1, m
        assert m["annotations"][ANNOTATION] == s.d.annotation_values[m["digest"]]

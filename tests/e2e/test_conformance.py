"""Port of the OCI distribution-spec conformance suite, v1.1.x line (github.com/opencontainers/
distribution-spec conformance/): setup.go and 03_discovery_test.go at b5f09eb, 01_pull_test.go at
47008ca, 02_push_test.go at 11b8e3f, 04_management_test.go at 3c7a4ac. reporter.go is not ported:
pytest reports (use --junitxml for a JUnit file).

Each Ginkgo `Specify` is one pytest case, run in the Go order against one registry per module; the
ids read "<Workflow> / <Context> / <Specify title>" as in the Go reporter, e.g.
    python3 -m pytest tests/e2e/test_conformance.py -k "Blob Upload Chunked"
All four workflows run (OCI_TEST_PULL/PUSH/CONTENT_DISCOVERY/CONTENT_MANAGEMENT=1), with the
automatic cross-mount test on (OCI_AUTOMATIC_CROSSMOUNT: true for berth, false for Distribution;
override with E2E_AUTOMATIC_CROSSMOUNT=0|1) and OCI_DELETE_MANIFEST_BEFORE_BLOBS=true (the Go default).
As in Go, later specs of a workflow use state left by earlier ones (sessions, tags).
Distribution 2.8.2 has no referrers API and no OCI-Subject header: those checks skip for it.
"""
import secrets
import warnings

import pytest

from registry_process import registry_impl
from conformance_lib import (EMPTY_LAYER_TAG, ERROR_CODES, INDEX, MANIFEST, OCTET, SPECS, TEST_TAG, Suite,
                             check_annotations, delete, errors_of, head_or_get_blob, manifest_req, ok2xx,
                             patch, referrers, rel, run_only_if, spec, start_chunked, status_in, tags_of)

# ----------------------------------------------------------------------------------- 01 Pull
PULL = "Pull"


@spec(PULL, "Setup", "Populate registry with test blob")
def _(s):
    ok2xx(s.put_blob(s.d.configs[0]))


@spec(PULL, "Setup", "Populate registry with test blob")
def _(s):
    ok2xx(s.put_blob(s.d.configs[1]))


@spec(PULL, "Setup", "Populate registry with test layer")
def _(s):
    ok2xx(s.put_blob(s.d.layer))


@spec(PULL, "Setup", "Populate registry with test manifest")
def _(s):
    s.tag = TEST_TAG
    ok2xx(s.put_manifest(s.tag, s.d.manifests[0]))


@spec(PULL, "Setup", "Populate registry with test manifest")
def _(s):
    ok2xx(s.put_manifest(s.d.manifests[1].digest, s.d.manifests[1]))


@spec(PULL, "Pull blobs", "HEAD request to nonexistent blob should result in 404 response")
def _(s):
    head_or_get_blob(s, "HEAD", s.d.dummy_digest, 404)


@spec(PULL, "Pull blobs", "HEAD request to existing blob should yield 200")
def _(s):
    resp = head_or_get_blob(s, "HEAD", s.d.configs[0].digest, 200)
    if resp.headers.get("Docker-Content-Digest"):
        assert resp.headers["Docker-Content-Digest"] == s.d.configs[0].digest


@spec(PULL, "Pull blobs", "GET nonexistent blob should result in 404 response")
def _(s):
    head_or_get_blob(s, "GET", s.d.dummy_digest, 404)


@spec(PULL, "Pull blobs", "GET request to existing blob URL should yield 200")
def _(s):
    head_or_get_blob(s, "GET", s.d.configs[0].digest, 200)


for _method in ("HEAD", "GET"):
    def _make(method):
        spec(PULL, "Pull manifests", f"{method} request to nonexistent manifest should return 404" if method == "HEAD"
             else "GET nonexistent manifest should return 404")(
            lambda s: manifest_req(s, method, s.d.nonexistent_manifest, 404))
        for i in (0, 1):
            spec(PULL, "Pull manifests", f"{method} request to manifest[{i}] path (digest) should yield 200 response")(
                lambda s, i=i: manifest_req(s, method, s.d.manifests[i].digest, 200,
                                             s.d.manifests[i].digest if method == "HEAD" else None))

        def by_tag(s):
            assert s.tag
            manifest_req(s, method, s.tag, 200, s.d.manifests[0].digest if method == "HEAD" else None)
        spec(PULL, "Pull manifests", f"{method} request to manifest path (tag) should yield 200 response")(by_tag)
    _make(_method)


@spec(PULL, "Error codes", "400 response body should contain OCI-conforming JSON message",
      distribution_bug="2.8.2 answers 500 UNKNOWN (path error) for GET manifests/sha256:totallywrong")
def _(s):
    resp = s.do("GET", "/v2/<name>/manifests/sha256:totallywrong", body=s.d.invalid_manifest,
                headers={"Content-Type": MANIFEST})
    status_in(resp, 400, 404)
    if resp.status_code == 400:
        assert errors_of(resp)[0]["code"] in ERROR_CODES


@spec(PULL, "Teardown", "Delete manifest[0] created in setup")
def _(s):
    delete(s, "manifests", s.d.manifests[0].digest)


@spec(PULL, "Teardown", "Delete manifest[1] created in setup")
def _(s):
    delete(s, "manifests", s.d.manifests[1].digest)


for _i, _title in ((0, "config[0] blob"), (1, "config[1] blob"), (None, "layer blob")):
    spec(PULL, "Teardown", f"Delete {_title} created in setup")(
        lambda s, i=_i: delete(s, "blobs", s.d.layer.digest if i is None else s.d.configs[i].digest, 404))

# ----------------------------------------------------------------------------------- 02 Push
PUSH = "Push"


@spec(PUSH, "Blob Upload Streamed", "PATCH request with blob in body should yield 202 response")
def _(s):
    resp = s.do("POST", "/v2/<name>/blobs/uploads/")
    assert resp.headers.get("Location")
    resp = s.do("PATCH", rel(resp), body=s.d.blob_a.content, headers=OCTET)
    status_in(resp, 202)
    s.last = resp


@spec(PUSH, "Blob Upload Streamed", "PUT request to session URL with digest should yield 201 response")
def _(s):
    assert s.last is not None
    resp = s.do("PUT", rel(s.last), headers=OCTET, params={"digest": s.d.blob_a.digest})
    status_in(resp, 201)
    assert resp.headers.get("Location")


@spec(PUSH, "Blob Upload Monolithic", "GET nonexistent blob should result in 404 response")
def _(s):
    status_in(s.do("GET", f"/v2/<name>/blobs/{s.d.dummy_digest}"), 404)


@spec(PUSH, "Blob Upload Monolithic", "POST request with digest and blob should yield a 201 or 202")
def _(s):
    c = s.d.configs[1]
    resp = s.do("POST", "/v2/<name>/blobs/uploads/", body=c.content, headers=OCTET, params={"digest": c.digest})
    assert resp.headers.get("Location")
    status_in(resp, 201, 202)
    s.last = resp


@spec(PUSH, "Blob Upload Monolithic", "GET request to blob URL from prior request should yield 200 or 404 based on response code")
def _(s):
    assert s.last is not None
    resp = s.do("GET", f"/v2/<name>/blobs/{s.d.configs[1].digest}")
    status_in(resp, 404 if s.last.status_code == 202 else 200)


@spec(PUSH, "Blob Upload Monolithic", "POST request should yield a session ID")
def _(s):
    resp = s.do("POST", "/v2/<name>/blobs/uploads/")
    status_in(resp, 202)
    s.last = resp


@spec(PUSH, "Blob Upload Monolithic", "PUT upload of a blob should yield a 201 Response")
def _(s):
    c = s.d.configs[1]
    resp = s.do("PUT", rel(s.last), body=c.content, headers=OCTET, params={"digest": c.digest})
    assert resp.headers.get("Location")
    status_in(resp, 201)


@spec(PUSH, "Blob Upload Monolithic", "GET request to existing blob should yield 200 response")
def _(s):
    status_in(s.do("GET", f"/v2/<name>/blobs/{s.d.configs[1].digest}"), 200)


@spec(PUSH, "Blob Upload Monolithic", "PUT upload of a layer blob should yield a 201 Response")
def _(s):
    resp = s.put_blob(s.d.layer)
    assert resp.headers.get("Location")
    status_in(resp, 201)


@spec(PUSH, "Blob Upload Monolithic", "GET request to existing layer should yield 200 response")
def _(s):
    status_in(s.do("GET", f"/v2/<name>/blobs/{s.d.layer.digest}"), 200)


@spec(PUSH, "Blob Upload Chunked", "Out-of-order blob upload should return 416",
      distribution_bug="2.8.2 ignores Content-Range on PATCH and answers 202")
def _(s):
    resp = start_chunked(s)
    min_size = resp.headers.get("OCI-Chunk-Min-Length")  # rebuild chunked blob if min size is above our chunk size
    if min_size and int(min_size) > len(s.d.chunk1):
        s.d.setup_chunked_blob(int(min_size) * 2 - 2, secrets.randbits(32))
    status_in(patch(s, rel(resp), s.d.chunk2, s.d.chunk2_range), 416)


@spec(PUSH, "Blob Upload Chunked", "PATCH request with first chunk should return 202")
def _(s):
    s.prev = start_chunked(s)
    resp = patch(s, rel(s.prev), s.d.chunk1, s.d.chunk1_range)
    status_in(resp, 202)
    assert resp.headers.get("Range") == s.d.chunk1_range
    s.last = resp


@spec(PUSH, "Blob Upload Chunked", "Retry previous blob chunk should return 416",
      distribution_bug="2.8.2 answers 404 BLOB_UPLOAD_INVALID for a stale _state token")
def _(s):
    status_in(patch(s, rel(s.prev), s.d.chunk1, s.d.chunk1_range), 416)


@spec(PUSH, "Blob Upload Chunked", "Get on stale blob upload should return 204 with a range and location",
      distribution_bug="2.8.2 answers 404 BLOB_UPLOAD_INVALID for a stale _state token")
def _(s):
    resp = s.do("GET", rel(s.prev))
    status_in(resp, 204)
    assert resp.headers.get("Location")
    assert resp.headers.get("Range") == s.d.chunk1_range
    s.last = resp


@spec(PUSH, "Blob Upload Chunked", "PATCH request with second chunk should return 202")
def _(s):
    resp = patch(s, rel(s.last), s.d.chunk2, s.d.chunk2_range)
    status_in(resp, 202)
    assert resp.headers.get("Location")
    s.last = resp


@spec(PUSH, "Blob Upload Chunked", "PUT request with digest should return 201")
def _(s):
    resp = s.do("PUT", rel(s.last), headers=OCTET, params={"digest": s.d.blob_b.digest})
    status_in(resp, 201)
    assert resp.headers.get("Location")


@spec(PUSH, "Cross-Repository Blob Mount", "Cross-mounting of a blob without the from argument should yield session id")
def _(s):
    resp = s.do("POST", "/v2/<name>/blobs/uploads/", s.crossmount, params={"mount": s.d.dummy_digest})
    status_in(resp, 202)
    assert resp.headers.get("Location")


@spec(PUSH, "Cross-Repository Blob Mount", "POST request to mount another repository's blob should return 201 or 202")
def _(s):
    resp = s.do("POST", "/v2/<name>/blobs/uploads/", s.crossmount, params={"mount": s.d.blob_a.digest, "from": s.name})
    status_in(resp, 201, 202)
    s.last = resp


@spec(PUSH, "Cross-Repository Blob Mount", "GET request to test digest within cross-mount namespace should return 200")
def _(s):
    run_only_if(s.last.status_code == 201)
    assert rel(s.last) == f"/v2/{s.crossmount}/blobs/{s.d.blob_a.digest}"
    status_in(s.do("GET", rel(s.last)), 200)


@spec(PUSH, "Cross-Repository Blob Mount", "Cross-mounting of nonexistent blob should yield session id")
def _(s):
    run_only_if(s.last.status_code == 202)
    assert rel(s.last).startswith(f"/v2/{s.crossmount}/blobs/uploads/")


@spec(PUSH, "Cross-Repository Blob Mount", "Cross-mounting without from, and automatic content discovery enabled should return a 201")
def _(s):
    run_only_if(s.last.status_code == 201)
    run_only_if(s.auto_crossmount)
    status_in(s.do("POST", "/v2/<name>/blobs/uploads/", s.crossmount, params={"mount": s.d.blob_a.digest}), 201)


@spec(PUSH, "Cross-Repository Blob Mount", "Cross-mounting without from, and automatic content discovery disabled should return a 202")
def _(s):
    run_only_if(s.last.status_code == 201)
    run_only_if(not s.auto_crossmount)
    status_in(s.do("POST", "/v2/<name>/blobs/uploads/", s.crossmount, params={"mount": s.d.blob_a.digest}), 202)


@spec(PUSH, "Manifest Upload", "GET nonexistent manifest should return 404")
def _(s):
    status_in(s.do("GET", f"/v2/<name>/manifests/{s.d.nonexistent_manifest}"), 404)


@spec(PUSH, "Manifest Upload", "PUT should accept a manifest upload")
def _(s):
    for i in range(4):
        resp = s.put_manifest(f"test{i}", s.d.manifests[1])
        assert resp.headers.get("Location")
        status_in(resp, 201)


@spec(PUSH, "Manifest Upload", "Registry should accept a manifest upload with no layers")
def _(s):
    resp = s.put_manifest(EMPTY_LAYER_TAG, s.d.empty_layer_manifest)
    if resp.status_code == 201:
        assert resp.headers.get("Location")
        s.empty_layer_ref = resp.headers["Location"]
    else:
        s.empty_layer_ref = None
        warnings.warn("image manifest with no layers is not supported")


@spec(PUSH, "Manifest Upload", "GET request to manifest URL (digest) should yield 200 response")
def _(s):
    manifest_req(s, "GET", s.d.manifests[1].digest, 200)


@spec(PUSH, "Teardown", "Delete manifest created in tests")
def _(s):
    delete(s, "manifests", s.d.manifests[1].digest)
    if getattr(s, "empty_layer_ref", None):
        delete(s, "manifests", s.d.empty_layer_manifest.digest)


@spec(PUSH, "Teardown", "Delete config blob created in tests")
def _(s):
    delete(s, "blobs", s.d.configs[1].digest, 404)


@spec(PUSH, "Teardown", "Delete layer blob created in setup")
def _(s):
    delete(s, "blobs", s.d.layer.digest, 404)


# ----------------------------------------------------------------------------------- 03 Content Discovery
DISC = "Content Discovery"


@spec(DISC, "Setup", "Populate registry with test blob")
def _(s):
    ok2xx(s.put_blob(s.d.configs[2]))


@spec(DISC, "Setup", "Populate registry with test layer")
def _(s):
    ok2xx(s.put_blob(s.d.layer))


@spec(DISC, "Setup", "Populate registry with test tags")
def _(s):
    for i in range(s.num_tags):
        ok2xx(s.put_manifest(f"test{i}", s.d.manifests[2]))
    s.tag_list = tags_of(s.do("GET", "/v2/<name>/tags/list"))


@spec(DISC, "Setup", "Populate registry with test tags (no push)")
def _(s):
    run_only_if(False)  # only when OCI_TAG_LIST names an existing repository's tags


@spec(DISC, "Setup", "References setup")
def _(s):
    d = s.d

    def put_ref(blob, subject, media_type=MANIFEST):
        resp = s.put_manifest(blob.digest, blob, media_type)
        ok2xx(resp)
        if s.referrers:  # Distribution 2.8.2 does not know OCI-Subject
            assert resp.headers.get("OCI-Subject") == subject, dict(resp.headers)

    assert d.empty_json.digest == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    ok2xx(s.put_blob(d.empty_json))
    ok2xx(s.put_blob(d.ref_blob_a))  # reference blob before the image manifest is pushed
    put_ref(d.refs_a_config, d.manifests[4].digest)  # config.mediaType = artifactType
    put_ref(d.refs_a_layer, d.manifests[4].digest)  # artifactType, config = empty JSON
    put_ref(d.refs_index, d.manifests[4].digest, INDEX)
    ok2xx(s.put_blob(d.configs[4]))
    ok2xx(s.put_blob(d.layer))
    ok2xx(s.put_manifest(TEST_TAG, d.manifests[4]))
    ok2xx(s.put_blob(d.ref_blob_b))  # reference blob after the image manifest is pushed
    put_ref(d.refs_b_config, d.manifests[4].digest)
    put_ref(d.refs_b_layer, d.manifests[4].digest)
    put_ref(d.refs_c_layer, d.manifests[3].digest)  # subject that does not exist


@spec(DISC, "Test content discovery endpoints (listing tags)", "GET request to list tags should yield 200 response")
def _(s):
    resp = s.do("GET", "/v2/<name>/tags/list")
    status_in(resp, 200)
    s.tag_list = tags_of(resp)
    s.num_tags = len(s.tag_list)


@spec(DISC, "Test content discovery endpoints (listing tags)", "GET number of tags should be limitable by `n` query parameter",
      distribution_bug="2.8.2 ignores n on tags/list")
def _(s):
    n = s.num_tags // 2
    resp = s.do("GET", "/v2/<name>/tags/list", params={"n": n})
    status_in(resp, 200)
    s.tag_list = tags_of(resp)
    assert len(s.tag_list) == n, resp.text


@spec(DISC, "Test content discovery endpoints (listing tags)", "GET start of tag is set by `last` query parameter",
      distribution_bug="2.8.2 ignores n and last on tags/list")
def _(s):
    n = s.num_tags // 2
    s.tag_list = tags_of(s.do("GET", "/v2/<name>/tags/list", params={"n": n}))
    resp = s.do("GET", "/v2/<name>/tags/list", params={"n": n, "last": s.tag_list[n - 1]})
    status_in(resp, 200)
    assert len(s.tag_list) <= n
    assert s.tag_list[n - 1] in s.tag_list  # as in Go (it checks the first page); and, stricter:
    assert all(t > s.tag_list[n - 1] for t in tags_of(resp)), resp.text


LIST_REFS = "Test content discovery endpoints (listing references)"


@spec(DISC, LIST_REFS, "GET request to nonexistent blob should result in empty 200 response", needs_referrers=True)
def _(s):
    assert len(referrers(s, s.d.dummy_digest)[1]) == 0


@spec(DISC, LIST_REFS, "GET request to existing blob should yield 200", needs_referrers=True)
def _(s):
    _, manifests = referrers(s, s.d.manifests[4].digest)
    assert len(manifests) == 5, manifests
    assert manifests[0]["digest"] != manifests[1]["digest"]
    check_annotations(s, manifests)


@spec(DISC, LIST_REFS, "GET request to existing blob with filter should yield 200", needs_referrers=True)
def _(s):
    resp, manifests = referrers(s, s.d.manifests[4].digest, {"artifactType": s.d.type_a})
    if resp.headers.get("OCI-Filters-Applied"):
        assert len(manifests) == 2, manifests
        assert resp.headers["OCI-Filters-Applied"] == "artifactType"
    else:
        assert len(manifests) == 5, manifests
        warnings.warn("filtering by artifact-type is not implemented")
    check_annotations(s, manifests)


@spec(DISC, LIST_REFS, "GET request to missing manifest should yield 200", needs_referrers=True)
def _(s):
    _, manifests = referrers(s, s.d.manifests[3].digest)
    assert len(manifests) == 1 and manifests[0]["digest"] == s.d.refs_c_layer.digest, manifests


@spec(DISC, "Teardown", "Delete created manifest & associated tags",
      distribution_bug="2.8.2 answers DELETE manifests/<tag> with 400 DIGEST_INVALID")
def _(s):
    d = s.d
    for ref in (d.refs_index.digest, d.manifests[2].digest, d.manifests[4].digest, d.refs_a_config.digest,
                d.refs_a_layer.digest, TEST_TAG, d.refs_b_config.digest, d.refs_b_layer.digest, d.refs_c_layer.digest):
        delete(s, "manifests", ref, 404)


@spec(DISC, "Teardown", "Delete config blob created in tests")
def _(s):
    delete(s, "blobs", s.d.configs[2].digest)


@spec(DISC, "Teardown", "Delete layer blob created in setup")
def _(s):
    delete(s, "blobs", s.d.layer.digest)


@spec(DISC, "Teardown", "References teardown")
def _(s):
    d = s.d
    for ref in (d.refs_index, d.refs_a_config, d.refs_a_layer, d.manifests[4], d.refs_b_config, d.refs_b_layer):
        delete(s, "manifests", ref.digest, 404)
    for blob in (d.configs[4], d.ref_blob_a, d.ref_blob_b, d.empty_json):
        delete(s, "blobs", blob.digest, 404)


# ----------------------------------------------------------------------------------- 04 Content Management
MGMT = "Content Management"


@spec(MGMT, "Setup", "Populate registry with test config blob")
def _(s):
    ok2xx(s.put_blob(s.d.configs[3]))


@spec(MGMT, "Setup", "Populate registry with test layer")
def _(s):
    ok2xx(s.put_blob(s.d.layer))


@spec(MGMT, "Setup", "Populate registry with test tag")
def _(s):
    s.tag_to_delete = TEST_TAG
    ok2xx(s.put_manifest(s.tag_to_delete, s.d.manifests[3]))


@spec(MGMT, "Setup", "Check how many tags there are before anything gets deleted")
def _(s):
    resp = s.do("GET", "/v2/<name>/tags/list")
    status_in(resp, 200)
    s.num_tags = len(resp.json().get("tags") or [])


@spec(MGMT, "Manifest delete", "DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)",
      distribution_bug="2.8.2 answers DELETE manifests/<tag> with 400 DIGEST_INVALID, not UNSUPPORTED")
def _(s):
    resp = s.do("DELETE", f"/v2/<name>/manifests/{s.tag_to_delete}")
    status_in(resp, 400, 202, 405)
    if resp.status_code == 400:
        assert errors_of(resp)[0]["code"] == "UNSUPPORTED"


@spec(MGMT, "Manifest delete", "DELETE request to manifest (digest) should yield 202 response unless already deleted")
def _(s):
    status_in(s.do("DELETE", f"/v2/<name>/manifests/{s.d.manifests[3].digest}"), 202, 404)


@spec(MGMT, "Manifest delete", "GET request to deleted manifest URL should yield 404 response, unless delete is disallowed")
def _(s):
    status_in(s.do("GET", f"/v2/<name>/manifests/{s.d.manifests[3].digest}"), 404, 200)


@spec(MGMT, "Manifest delete", "GET request to tags list should reflect manifest deletion")
def _(s):
    resp = s.do("GET", "/v2/<name>/tags/list")
    status_in(resp, 200)
    assert len(resp.json().get("tags") or []) < s.num_tags, resp.text


@spec(MGMT, "Blob delete", "DELETE request to blob URL should yield 202 response")
def _(s):
    status_in(s.do("DELETE", f"/v2/<name>/blobs/{s.d.configs[3].digest}"), 202, 404, 405)
    resp = s.do("DELETE", f"/v2/<name>/blobs/{s.d.layer.digest}")
    status_in(resp, 202, 404, 405)
    s.blob_delete_allowed = resp.status_code != 405


@spec(MGMT, "Blob delete", "GET request to deleted blob URL should yield 404 response")
def _(s):
    run_only_if(s.blob_delete_allowed)
    status_in(s.do("GET", f"/v2/<name>/blobs/{s.d.configs[3].digest}"), 404)


@pytest.fixture(scope="module")
def suite(registry_module):
    return Suite(registry_module)


def _params():
    for name, _, needs_referrers, bug in SPECS:
        marks = []
        if bug and registry_impl() == "distribution":
            marks.append(pytest.mark.xfail(reason=f"Distribution bug: {bug}", strict=True))
        yield pytest.param(name, needs_referrers, id=name, marks=marks)


@pytest.mark.parametrize("name,needs_referrers", list(_params()))
def test_conformance(suite, name, needs_referrers):
    if needs_referrers and not suite.referrers:
        pytest.skip(f"{suite.reg.impl}: no referrers API (Distribution 2.8.2)")
    next(fn for n, fn, _, _ in SPECS if n == name)(suite)

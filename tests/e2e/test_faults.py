"""Fault and edge-case tests of the registry API: bad digests, cut-off and out-of-order uploads,
bad manifests and names, ranges, SIGKILL mid-push and graceful restarts.

Run against berth by default (E2E_REGISTRY=distribution runs them against Distribution 2.8.2, where
its known deviations are strict xfails). Raw sockets / http.client are used wherever requests would
normalise the path or hide the fault. Error codes are those of the OCI distribution spec.
"""
import hashlib
import http.client
import json
import os
import socket
import threading
import time
import uuid

import pytest

from images import OCI_MANIFEST, make_busybox_oci_layout, oci_layout_blobs, sha256_digest
from registry_process import registry_impl
from skopeo_support import skopeo_copy
from registry_http import (EMPTY, EMPTY_DESC, OCTET, SPEC_CODES, assert_error, image_manifest, patch,
                           patch_ok, push_blob, raw, read_response, start_upload, stream_body, upload_range_end,
                           with_query)


def distribution_bug(reason):
    """Strict xfail when running against Distribution 2.8.2 (a documented deviation of the reference)."""
    return pytest.mark.xfail(registry_impl() == "distribution", reason=f"Distribution 2.8.2: {reason}", strict=True)


# ------------------------------------------------------------------------------------ digests

@distribution_bug("a single POST ?digest= is not supported: 202 and the body is ignored")
def test_wrong_digest_on_put_is_digest_invalid_and_stores_nothing(registry):
    data, wrong = os.urandom(4096), sha256_digest(b"something else")
    # Monolithic POST ?digest=
    assert_error(raw(registry, "POST", f"/v2/faults/wrong/blobs/uploads/?digest={wrong}", data, OCTET), 400, "DIGEST_INVALID")
    # POST, PUT ?digest= with the body
    loc = start_upload(registry, "faults/wrong")
    assert_error(raw(registry, "PUT", with_query(loc, digest=wrong), data, OCTET), 400, "DIGEST_INVALID")
    # POST, PATCH, PUT ?digest= without body
    loc = patch_ok(registry, start_upload(registry, "faults/wrong"), data, 0)
    assert_error(raw(registry, "PUT", with_query(loc, digest=wrong), b"", OCTET), 400, "DIGEST_INVALID")
    for digest in (wrong, sha256_digest(data)):
        assert raw(registry, "HEAD", f"/v2/faults/wrong/blobs/{digest}").status == 404
        assert_error(raw(registry, "GET", f"/v2/faults/wrong/blobs/{digest}"), 404, "BLOB_UNKNOWN")


@distribution_bug("POST ?digest=<malformed> is ignored and opens a session (202)")
@pytest.mark.parametrize("digest", ["sha256:zzz", "sha256:" + "A" * 64, "sha256:" + "a" * 63, "md5:abcd", "sha256",
                                    "sha256:" + "g" * 64, "nodigest"])
def test_invalid_digests_are_digest_invalid(registry, digest):
    data = b"payload"
    assert_error(raw(registry, "POST", f"/v2/faults/digest/blobs/uploads/?digest={digest}", data, OCTET),
                 400, "DIGEST_INVALID")
    loc = start_upload(registry, "faults/digest")
    assert_error(raw(registry, "PUT", with_query(loc, digest=digest), data, OCTET), 400, "DIGEST_INVALID")
    # Fetching by a malformed digest: 400 DIGEST_INVALID (or 404 BLOB_UNKNOWN), never a 5xx or a body.
    for method in ("GET", "HEAD", "DELETE"):
        r = raw(registry, method, f"/v2/faults/digest/blobs/{digest}")
        assert r.status in (400, 404), (method, r)
        if method != "HEAD":
            assert_error(r, (400, 404), ("DIGEST_INVALID", "BLOB_UNKNOWN"))


# ------------------------------------------------------------------------------------ uploads

@distribution_bug("the bytes of a cut-off PATCH stay in the upload: its Location then answers 404 BLOB_UPLOAD_INVALID")
def test_upload_cut_off_mid_stream_is_not_corrupted(registry):
    data = os.urandom(3 * 1024 * 1024)
    first = 1024 * 1024
    loc = patch_ok(registry, start_upload(registry, "faults/cut"), data[:first], 0)  # follow the latest Location
    # Claim 2 MiB, send 700 KiB, close the socket.
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=10)
    sock.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                   f"Content-Range: {first}-{len(data) - 1}\r\nContent-Length: {len(data) - first}\r\n\r\n").encode())
    sock.sendall(data[first:first + 700 * 1024])
    time.sleep(0.3)
    sock.close()
    time.sleep(0.3)
    assert upload_range_end(registry, loc) == first, "the cut-off chunk must not count"
    loc = patch_ok(registry, loc, data[first:], first)
    r = raw(registry, "PUT", with_query(loc, digest=sha256_digest(data)), b"", OCTET)
    assert r.status == 201, r
    got = raw(registry, "GET", f"/v2/faults/cut/blobs/{sha256_digest(data)}")
    assert got.status == 200 and got.body == data


def test_cut_off_monolithic_push_stores_nothing(registry):
    data = os.urandom(2 * 1024 * 1024)
    digest = sha256_digest(data)
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=10)
    sock.sendall((f"POST /v2/faults/cutmono/blobs/uploads/?digest={digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Content-Type: application/octet-stream\r\nContent-Length: {len(data)}\r\n\r\n").encode())
    sock.sendall(data[:len(data) // 2])
    sock.close()
    time.sleep(0.5)
    assert raw(registry, "HEAD", f"/v2/faults/cutmono/blobs/{digest}").status == 404


@distribution_bug("ignores Content-Range on PATCH (202 for any offset)")
def test_out_of_order_chunk_is_416(registry):
    data = os.urandom(1000)
    loc = patch_ok(registry, start_upload(registry, "faults/order"), data[:400], 0)
    assert patch(registry, loc, data[500:], 500).status == 416  # gap
    assert patch(registry, loc, data[:400], 0).status == 416  # retry of an acknowledged chunk
    assert patch(registry, loc, data[300:600], 300).status == 416  # overlap
    assert upload_range_end(registry, loc) == 400, "refused chunks change nothing"
    loc = patch_ok(registry, loc, data[400:], 400)
    assert raw(registry, "PUT", with_query(loc, digest=sha256_digest(data)), b"", OCTET).status == 201


@distribution_bug("a PATCH whose Content-Range length differs from Content-Length is accepted")
def test_wrong_content_length_is_refused_and_changes_nothing(registry):
    loc = patch_ok(registry, start_upload(registry, "faults/length"), b"12345", 0)
    r = raw(registry, "PATCH", loc, b"678", {**OCTET, "Content-Range": "5-9"})  # range says 5 bytes, body has 3
    assert r.status in (400, 416), r
    assert upload_range_end(registry, loc) == 5
    # Monolithic: Content-Length shorter than the bytes sent: the digest of what was read mismatches.
    data = os.urandom(1000)
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=10)
    sock.sendall((f"POST /v2/faults/length/blobs/uploads/?digest={sha256_digest(data)} HTTP/1.1\r\nHost: x\r\n"
                  f"Connection: close\r\nContent-Length: 500\r\n\r\n").encode() + data)
    head = sock.recv(65536).split(b"\r\n", 1)[0]
    sock.close()
    assert head.split()[1] in (b"400", b"413"), head
    assert raw(registry, "HEAD", f"/v2/faults/length/blobs/{sha256_digest(data)}").status == 404
    assert raw(registry, "HEAD", f"/v2/faults/length/blobs/{sha256_digest(data[:500])}").status == 404


def test_chunk_after_finish_is_blob_upload_unknown(registry):
    data = b"finished blob"
    loc = start_upload(registry, "faults/after")
    assert raw(registry, "PUT", with_query(loc, digest=sha256_digest(data)), data, OCTET).status == 201
    assert_error(patch(registry, loc, b"more", len(data)), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(raw(registry, "GET", loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert raw(registry, "GET", f"/v2/faults/after/blobs/{sha256_digest(data)}").body == data


@distribution_bug("an unknown upload id without _state answers 400/404 BLOB_UPLOAD_INVALID")
def test_unknown_upload_id_is_blob_upload_unknown(registry):
    path = f"/v2/faults/unknown/blobs/uploads/{uuid.uuid4()}"
    for method, body, query in (("GET", None, ""), ("PATCH", b"abc", ""), ("PUT", b"", f"?digest={sha256_digest(b'')}"),
                                ("DELETE", None, "")):
        assert_error(raw(registry, method, path + query, body), 404, "BLOB_UPLOAD_UNKNOWN")


def test_cancelled_upload_is_gone(registry):
    loc = patch_ok(registry, start_upload(registry, "faults/cancel"), b"abc", 0)
    assert raw(registry, "DELETE", loc).status == 204
    assert_error(raw(registry, "GET", loc), 404, ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"))


# ------------------------------------------------------------------------------------ manifests

NO_CONFIG = distribution_bug("a manifest without config gets 400 DIGEST_INVALID + MANIFEST_BLOB_UNKNOWN")


@pytest.mark.parametrize("body", [
    pytest.param(b"blablabla", id="not-json"), pytest.param(b"{", id="truncated"), pytest.param(b"[]", id="array"),
    pytest.param(b'{"schemaVersion": 2}', id="no-config", marks=NO_CONFIG),
    pytest.param(b'{"schemaVersion": 1, "layers": []}', id="schema-1",
                 marks=distribution_bug("a schemaVersion 1 body under the OCI media type gets 500 UNKNOWN")),
    pytest.param(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}).encode(), id="config-missing",
                 marks=NO_CONFIG)])
def test_malformed_manifest_is_manifest_invalid(registry, body):
    assert_error(raw(registry, "PUT", "/v2/faults/badman/manifests/v1", body, {"Content-Type": OCI_MANIFEST}),
                 400, "MANIFEST_INVALID")
    assert raw(registry, "GET", "/v2/faults/badman/manifests/v1", headers={"Accept": OCI_MANIFEST}).status == 404


@distribution_bug("a manifest over its 4 MiB limit gets 400 MANIFEST_INVALID (request body too large), not 413")
def test_oversized_manifest_is_413(registry):
    push_blob(registry, "faults/big", EMPTY)

    def manifest(size):
        base = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": EMPTY_DESC, "layers": [],
                "annotations": {"pad": ""}}
        pad = size - len(json.dumps(base))
        base["annotations"]["pad"] = "x" * pad
        body = json.dumps(base).encode()
        assert len(body) == size
        return body

    ok = manifest(4 * 1024 * 1024 - 64)  # registries SHOULD accept at least 4 MiB
    assert raw(registry, "PUT", "/v2/faults/big/manifests/fits", ok, {"Content-Type": OCI_MANIFEST}).status == 201
    big = manifest(4 * 1024 * 1024 + 4096)
    r = raw(registry, "PUT", "/v2/faults/big/manifests/toobig", big, {"Content-Type": OCI_MANIFEST})
    assert r.status == 413, r
    if r.body:
        assert_error(r, 413, ("SIZE_INVALID", "MANIFEST_INVALID"))
    assert raw(registry, "GET", "/v2/faults/big/manifests/toobig").status == 404


def test_manifest_referencing_missing_blob_is_manifest_blob_unknown(registry):
    layer = push_blob(registry, "faults/dangling", b"a layer")
    config = push_blob(registry, "faults/dangling", b'{"architecture":"amd64","os":"linux"}')
    missing = sha256_digest(b"never uploaded")
    for body in (image_manifest(missing, 10, [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 7}]),
                 image_manifest(config, 37, [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": missing, "size": 14}])):
        assert_error(raw(registry, "PUT", "/v2/faults/dangling/manifests/v1", body, {"Content-Type": OCI_MANIFEST}),
                     400, "MANIFEST_BLOB_UNKNOWN")
    assert raw(registry, "GET", "/v2/faults/dangling/manifests/v1").status == 404


# ------------------------------------------------------------------------------------ names

BAD_NAMES = {"dotdot": "a/../b", "dotdot-encoded": "a/%2e%2e/b", "uppercase": "Faults/Upper",
             "too-long": "n" * 300, "leading-dash": "-lead/x", "double-slash": "a//b", "trailing-dot": "a/b.",
             "encoded-slash": "a%2fb"}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
@distribution_bug("its router answers invalid names with a plain-text 404 page, not OCI JSON")
def test_invalid_names_are_name_invalid_or_unknown(registry, name):
    for method, path in (("POST", f"/v2/{name}/blobs/uploads/"), ("GET", f"/v2/{name}/tags/list"),
                         ("GET", f"/v2/{name}/manifests/latest"), ("PUT", f"/v2/{name}/manifests/latest")):
        r = raw(registry, method, path, b"{}" if method == "PUT" else None, {"Content-Type": OCI_MANIFEST})
        assert_error(r, (400, 404), ("NAME_INVALID", "NAME_UNKNOWN"))
    assert not os.path.exists(registry.root_dir / "docker/registry/v2/repositories/b"), "nothing created outside"


# ------------------------------------------------------------------------------------ ranges

def test_range_requests_on_blob_get(registry):
    data = os.urandom(10_000)
    digest = push_blob(registry, "faults/range", data)
    path = f"/v2/faults/range/blobs/{digest}"
    for header, lo, hi in (("bytes=10-19", 10, 19), ("bytes=9990-", 9990, 9999), ("bytes=-5", 9995, 9999),
                           ("bytes=0-0", 0, 0), ("bytes=9000-20000", 9000, 9999)):
        r = raw(registry, "GET", path, headers={"Range": header})
        assert r.status == 206, (header, r)
        assert r.headers.get("content-range") == f"bytes {lo}-{hi}/{len(data)}", (header, r.headers)
        assert r.body == data[lo:hi + 1], header
        assert int(r.headers["content-length"]) == hi - lo + 1
    for header in ("bytes=10000-", "bytes=20000-30000"):
        r = raw(registry, "GET", path, headers={"Range": header})
        assert r.status == 416, (header, r)
        assert r.headers.get("content-range") in (f"bytes */{len(data)}", None), r.headers
        if "json" in r.headers.get("content-type", ""):  # RANGE_INVALID: Distribution's extension code
            assert_error(r, 416, tuple(SPEC_CODES | {"RANGE_INVALID"}))
    full = raw(registry, "GET", path)
    assert full.status == 200 and full.body == data


@pytest.mark.parametrize("kind", ["bad-name", "bad-digest", "unknown-upload", "out-of-order", "oversized-manifest"])
def test_error_before_body_keeps_connection_in_sync(registry, kind):
    """A request refused before its body is read must not desynchronise a keep-alive connection:
    the body's bytes must never be parsed as the next request (close instead, or drain it)."""
    body = b"GET /v2/ HTTP/1.1\r\nHost: smuggled\r\n\r\n" * 4000  # ~180 KB that parses as requests
    target = {"bad-name": "PUT /v2/Bad/Name/manifests/x", "bad-digest": "POST /v2/faults/sync/blobs/uploads/?digest=sha256:zz",
              "unknown-upload": f"PATCH /v2/faults/sync/blobs/uploads/{uuid.uuid4()}",
              "oversized-manifest": "PUT /v2/faults/sync/manifests/x"}.get(kind)
    extra = ""
    if kind == "out-of-order":
        target, extra = f"PATCH {start_upload(registry, 'faults/sync')}", f"Content-Range: 100-{99 + len(body)}\r\n"
    if kind == "oversized-manifest":
        body += b" " * (5 << 20)
        extra = f"Content-Type: {OCI_MANIFEST}\r\n"
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=20)
    f = sock.makefile("rb")
    try:
        try:
            sock.sendall(f"{target} HTTP/1.1\r\nHost: x\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body +
                         b"GET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\n")
        except OSError:
            pass  # the server may refuse the rest of a body it will not read, and close
        first = read_response(f)
        assert first is not None
        if registry.impl == "berth":
            assert 400 <= first[0] < 500, first
        second = read_response(f)
        if second is not None:  # kept alive: the next response must be the catalog, nothing smuggled
            assert second[0] == 200 and b"repositories" in second[1], second
    except (ConnectionResetError, BrokenPipeError):
        pass  # closing the connection is a valid way to refuse the rest
    finally:
        f.close()
        sock.close()


def test_blobs_are_scoped_to_their_repository(registry):
    config = b'{"architecture":"amd64","os":"linux"}'
    c, layer = push_blob(registry, "faults/iso-a", config), push_blob(registry, "faults/iso-a", b"layer one")
    push_blob(registry, "faults/iso-c", b"layer one")
    assert_error(raw(registry, "GET", f"/v2/faults/iso-b/blobs/{layer}"), 404, ("BLOB_UNKNOWN", "NAME_UNKNOWN"))
    m = image_manifest(c, len(config), [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 9}])
    assert_error(raw(registry, "PUT", "/v2/faults/iso-b/manifests/v1", m, {"Content-Type": OCI_MANIFEST}),
                 400, "MANIFEST_BLOB_UNKNOWN")  # blobs of another repository are not referable
    assert raw(registry, "DELETE", f"/v2/faults/iso-a/blobs/{layer}").status == 202
    assert raw(registry, "HEAD", f"/v2/faults/iso-a/blobs/{layer}").status == 404
    assert raw(registry, "GET", f"/v2/faults/iso-c/blobs/{layer}").body == b"layer one"


# ------------------------------------------------------------------------------------ crash and restart


@distribution_bug("after the kill the session's Location answers 404 BLOB_UPLOAD_INVALID, not a Range or BLOB_UPLOAD_UNKNOWN")
def test_kill_9_during_large_push_then_restart(registry, tmp_path):
    repo = "faults/crash"
    images = {"v1": make_busybox_oci_layout(tmp_path / "v1"),
              "v2": make_busybox_oci_layout(tmp_path / "v2", extra_layers=[{"data/blob": os.urandom(3 << 20)}])}
    for tag, img in images.items():
        skopeo_copy(f"oci:{img.layout_dir}:latest", registry.ref(repo, tag), registry)
    # A session with 1 MiB acknowledged, then a 64 MiB chunk and a 64 MiB monolithic push in flight.
    big, mono = os.urandom(64 << 20), os.urandom(64 << 20)
    acked = 1 << 20
    loc = patch_ok(registry, start_upload(registry, repo), big[:acked], 0)
    sent_a, sent_b = [0], [0]
    threads = [
        threading.Thread(target=stream_body, args=(registry.port, (
            f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Range: {acked}-{len(big) - 1}\r\nContent-Length: {len(big) - acked}\r\n\r\n").encode(),
            big[acked:], sent_a)),
        threading.Thread(target=stream_body, args=(registry.port, (
            f"POST /v2/{repo}/blobs/uploads/?digest={sha256_digest(mono)} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {len(mono)}\r\n\r\n").encode(), mono, sent_b)),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20

    def going():  # Distribution answers a POST ?digest= at once without reading it: thread b then ends
        return sent_a[0] >= (8 << 20) and (sent_b[0] >= (8 << 20) or not threads[1].is_alive())
    while not going() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert going(), f"streams did not get going: {sent_a} {sent_b}"
    registry.kill9()
    for t in threads:
        t.join(timeout=30)
    registry.start()

    # Nothing partial is visible.
    for digest in (sha256_digest(big), sha256_digest(mono)):
        assert raw(registry, "HEAD", f"/v2/{repo}/blobs/{digest}").status == 404
    tags = json.loads(raw(registry, "GET", f"/v2/{repo}/tags/list").body)["tags"]
    assert sorted(tags) == ["v1", "v2"]
    # The interrupted session is resumable from what was acknowledged, or cleanly unknown.
    status = raw(registry, "GET", loc)
    if status.status == 404:
        assert_error(status, 404, "BLOB_UPLOAD_UNKNOWN")
    else:
        assert upload_range_end(registry, loc) == acked
        loc = patch_ok(registry, loc, big[acked:], acked)
        assert raw(registry, "PUT", with_query(loc, digest=sha256_digest(big)), b"", OCTET).status == 201
        assert hashlib.sha256(raw(registry, "GET", f"/v2/{repo}/blobs/{sha256_digest(big)}").body).hexdigest() == \
            sha256_digest(big)[7:]
    # Every image committed before the kill pulls back byte for byte.
    for tag, img in images.items():
        out = tmp_path / f"out-{tag}"
        skopeo_copy(registry.ref(repo, tag), f"oci:{out}:{tag}", registry)
        pulled = oci_layout_blobs(out)
        for digest, blob in img.blobs.items():
            assert pulled.get(digest) == blob, f"{tag}: {digest} differs after the crash"
        r = raw(registry, "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.body == img.manifest


def test_upload_session_survives_graceful_restart(registry):
    data = os.urandom(600_000)
    loc = patch_ok(registry, start_upload(registry, "faults/restart"), data[:250_000], 0)
    registry.restart()
    assert upload_range_end(registry, loc) == 250_000
    loc = patch_ok(registry, loc, data[250_000:], 250_000)
    r = raw(registry, "PUT", with_query(loc, digest=sha256_digest(data)), b"", OCTET)
    assert r.status == 201, r
    got = raw(registry, "GET", f"/v2/faults/restart/blobs/{sha256_digest(data)}")
    assert got.status == 200 and got.body == data
    assert got.headers.get("docker-content-digest") == sha256_digest(data)


def test_kill_9_during_tag_churn_leaves_consistent_metadata(registry):
    """Tags move while the server is SIGKILLed: afterwards every tag resolves to a complete manifest
    it was (being) pointed at, and every acknowledged manifest is still there."""
    repo, layer = "faults/churn", os.urandom(100_000)
    layer_digest = push_blob(registry, repo, layer)
    attempts, acked, stop = {}, [], threading.Event()

    def churn():
        i = 0
        while not stop.is_set():
            try:
                config = json.dumps({"architecture": "amd64", "os": "linux", "author": f"churn {i}"}).encode()
                body = image_manifest(push_blob(registry, repo, config), len(config),
                                      [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                                        "size": len(layer)}])
                tag = f"t{i % 4}"
                attempts.setdefault(tag, []).append(sha256_digest(body))
                if raw(registry, "PUT", f"/v2/{repo}/manifests/{tag}", body, {"Content-Type": OCI_MANIFEST}).status == 201:
                    acked.append((tag, sha256_digest(body)))
            except (OSError, AssertionError, http.client.HTTPException):
                return
            i += 1

    worker = threading.Thread(target=churn)
    worker.start()
    deadline = time.monotonic() + 20
    while len(acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 30, "the churn did not get going"
    registry.kill9()
    stop.set()
    worker.join(timeout=30)
    registry.start()
    last_acked = {tag: digest for tag, digest in acked}
    tags = json.loads(raw(registry, "GET", f"/v2/{repo}/tags/list").body)["tags"]
    assert set(last_acked) <= set(tags)
    for tag in tags:
        r = raw(registry, "GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and sha256_digest(r.body) == r.headers.get("docker-content-digest"), (tag, r)
        history = attempts[tag]
        assert sha256_digest(r.body) in history[history.index(last_acked[tag]):], f"{tag} went back in time"
        doc = json.loads(r.body)
        for d in [doc["config"]] + doc["layers"]:
            assert raw(registry, "HEAD", f"/v2/{repo}/blobs/{d['digest']}").status == 200, (tag, d)
    for tag, digest in acked:
        assert raw(registry, "HEAD", f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).status == 200


@pytest.mark.parametrize("drain", [None, "2s"], ids=["no-draintimeout", "draintimeout-2s"])
def test_sigterm_during_stalled_upload_stops_promptly(make_registry, drain):
    """SIGTERM while a client is in the middle of a request body and has stalled: the server exits
    within 15 s (Distribution: at once, or after http.draintimeout), and the session comes back
    with what was acknowledged before (or is cleanly unknown)."""
    registry = make_registry(extra_config={"http": {"draintimeout": drain}} if drain else None)
    data = os.urandom(4 << 20)
    acked = 256 << 10
    loc = patch_ok(registry, start_upload(registry, "faults/term"), data[:acked], 0)
    sock = socket.create_connection(("127.0.0.1", registry.port), timeout=30)
    sock.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                  f"Content-Range: {acked}-{len(data) - 1}\r\nContent-Length: {len(data) - acked}\r\n\r\n").encode()
                 + data[acked:acked + (1 << 20)])  # then nothing: the client stalls
    time.sleep(0.5)
    started = time.monotonic()
    try:
        registry.stop(timeout=15)  # raises if SIGTERM was ignored for 15 s
    finally:
        sock.close()
    assert time.monotonic() - started < 15
    registry.start()
    status = raw(registry, "GET", loc)
    if status.status == 404:
        assert_error(status, 404, ("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"))
    else:
        assert upload_range_end(registry, loc) == acked
        loc = patch_ok(registry, loc, data[acked:], acked)
        assert raw(registry, "PUT", with_query(loc, digest=sha256_digest(data)), b"", OCTET).status == 201
        assert raw(registry, "GET", f"/v2/faults/term/blobs/{sha256_digest(data)}").body == data

"""Raw HTTP helpers for registry API tests (test_faults.py, registry_client.py; usable by any e2e test).

http.client / sockets send paths exactly as given (no normalisation of `..` or `%2e`), expose
cut-off bodies and keep-alive behaviour, which requests would hide.
"""
import base64
import http.client
import json
import socket
import time

from images import OCI_CONFIG, OCI_MANIFEST, sha256_digest

SPEC_CODES = {"BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
              "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN",
              "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED"}
EXTRA_CODES = {"MANIFEST_UNVERIFIED", "TAG_INVALID", "RANGE_INVALID", "TOOMANYREQUESTS"}  # older spec / Distribution
OCTET = {"Content-Type": "application/octet-stream"}
EMPTY = b"{}"
EMPTY_DESC = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(EMPTY), "size": 2}


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def error_code(self):
        return self.json()["errors"][0]["code"]

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def raw(reg, method, path, body=None, headers=None, timeout=30) -> Reply:
    """One request with http.client: the path is sent exactly as given (no normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        try:
            body = resp.read()
        except http.client.IncompleteRead as e:  # a body shorter than its Content-Length: keep what came
            body = e.partial
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def basic_auth(user: str, password: str) -> dict:
    """The `Authorization` header of HTTP Basic credentials."""
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def assert_error(reply: Reply, statuses, codes):
    """Status in `statuses` and an OCI error body {"errors":[{"code":..,"message":..}]} with a code in `codes`."""
    statuses = (statuses,) if isinstance(statuses, int) else statuses
    codes = (codes,) if isinstance(codes, str) else codes
    assert reply.status in statuses, reply
    try:
        doc = json.loads(reply.body)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {reply!r}")
    assert isinstance(doc.get("errors"), list) and doc["errors"], doc
    for err in doc["errors"]:
        assert isinstance(err.get("code"), str) and err["code"] in SPEC_CODES | EXTRA_CODES, err
        assert isinstance(err.get("message"), str), err
    assert doc["errors"][0]["code"] in codes, doc


def start_upload(reg, repo) -> str:
    r = raw(reg, "POST", f"/v2/{repo}/blobs/uploads/", b"")
    assert r.status == 202 and r.headers.get("location"), r
    return location_path(r)


def location_path(reply) -> str:
    loc = reply.headers["location"]
    if "://" in loc:
        loc = "/" + loc.split("://", 1)[1].split("/", 1)[1]
    return loc


def with_query(location, **params):
    sep = "&" if "?" in location else "?"
    return location + sep + "&".join(f"{k}={v}" for k, v in params.items())


def patch(reg, location, data, start):
    return raw(reg, "PATCH", location, data, {**OCTET, "Content-Range": f"{start}-{start + len(data) - 1}"})


def patch_ok(reg, location, data, start) -> str:
    """PATCH a chunk that must be accepted; returns the Location to use next (Distribution changes it)."""
    r = patch(reg, location, data, start)
    assert r.status == 202, r
    assert r.headers.get("range") == f"0-{start + len(data) - 1}", r.headers
    return location_path(r)


def push_blob(reg, repo, data) -> str:
    """POST ?digest= with the body; falls back to POST then PUT where the single POST is not supported."""
    d = sha256_digest(data)
    r = raw(reg, "POST", f"/v2/{repo}/blobs/uploads/?digest={d}", data, OCTET)
    if r.status == 202:  # Distribution 2.8.2 ignores the body of a POST ?digest=
        r = raw(reg, "PUT", with_query(location_path(r), digest=d), data, OCTET)
    assert r.status == 201, r
    return d


def upload_range_end(reg, location) -> int:
    """Bytes acknowledged by the upload session (GET status, 204 with Range: 0-<end>)."""
    r = raw(reg, "GET", location)
    assert r.status == 204, r
    rng = r.headers.get("range", "")
    assert rng.startswith("0-"), r
    return int(rng[2:]) + 1


def image_manifest(config_digest, config_size, layers):
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
                       "layers": layers}).encode()


def read_response(f):
    """(status, body) of one HTTP/1.1 response from a socket file, or None at EOF."""
    line = f.readline()
    if not line:
        return None
    status, length, chunked = int(line.split()[1]), 0, False
    while (h := f.readline()) not in (b"\r\n", b"\n", b""):
        k, _, v = h.decode().partition(":")
        length = int(v) if k.strip().lower() == "content-length" else length
        chunked = chunked or (k.strip().lower() == "transfer-encoding" and "chunked" in v.lower())
    if chunked:
        body = b""
        while (size := int(f.readline().split(b";")[0], 16)):
            body += f.read(size)
            f.readline()
        f.readline()
        return status, body
    return status, f.read(length)


def stream_body(port, head: bytes, payload: bytes, sent: list, pace=0.005):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(head)
        for off in range(0, len(payload), 256 * 1024):
            sock.sendall(payload[off:off + 256 * 1024])
            sent[0] = off + 256 * 1024
            time.sleep(pace)
        sock.recv(1024)
    except OSError:
        pass

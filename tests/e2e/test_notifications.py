"""Notifications (docs/operations.md, "Notifications"): Distribution's event envelope POSTed to
each endpoint, with push, pull, mount and delete events; at-least-once delivery in order per
endpoint, retried with backoff while a receiver fails; a durable outbox that survives kill -9;
ignore rules; and an endpoint that is slow does not hold up another.

The one thing not real here is the webhook receiver: a small http.server in a thread on a free
loopback port, which records every POST (headers, parsed body, the order it came in and when it
was answered) and answers with the status the test sets.
"""
from __future__ import annotations

import collections
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from images import OCI_MANIFEST, make_busybox_oci_layout
from programs import free_port
from polling import wait_until
from registry_http import basic_auth, push_blob, raw
from skopeo_support import skopeo_copy

ENVELOPE = "application/vnd.docker.distribution.events.v2+json"
DISTRIBUTION_282_ENVELOPE = "application/vnd.docker.distribution.events.v1+json"  # 2.8.2's name for the same body
OCTET_STREAM = "application/octet-stream"
ACTIONS = {"push", "pull", "mount", "delete"}
USER, PASSWORD = "alice", "alice-notify-pw"
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


# ----- the webhook receiver

_SEQ_LOCK = threading.Lock()
_SEQ = [0]


def _tick() -> int:
    """One global, increasing sequence number shared by every receiver (orders events across them)."""
    with _SEQ_LOCK:
        _SEQ[0] += 1
        return _SEQ[0]


@dataclass
class Post:
    received: int                 # _tick() when the request had been read
    path: str
    headers: dict                 # lower-case names
    body: bytes
    doc: dict | None
    error: str = ""
    status: int | None = None     # the status answered (None while held)
    answered: int | None = None   # _tick() just before the answer was sent

    @property
    def events(self) -> list:
        if not isinstance(self.doc, dict) or not isinstance(self.doc.get("events"), list):
            return []
        return self.doc["events"]


class Receiver:
    """A webhook receiver on 127.0.0.1. `status` is what it answers (change it at any time);
    `hold(post)`, if set, is called before answering and may block (a slow endpoint)."""

    def __init__(self, name: str, *, status: int = 200, port: int | None = None):
        self.name = name
        self.port = port or free_port()
        self.status = status
        self.hold = None
        self.posts: list[Post] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                receiver._handle(self)

            def log_message(self, *args):
                pass

        deadline = time.monotonic() + 10
        while True:  # a port reserved earlier may linger for a moment
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=f"receiver-{self.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        headers = {k.lower(): v for k, v in h.headers.items()}
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while (size := int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)):
                body += h.rfile.read(size)
                h.rfile.readline()
            while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
        else:
            body = h.rfile.read(int(headers.get("content-length") or 0))
        doc, error = None, ""
        try:
            doc = json.loads(body)
        except ValueError as e:
            error = f"body is not JSON: {e}: {body[:200]!r}"
        with self._lock:
            post = Post(_tick(), h.path, headers, body, doc, error)
            self.posts.append(post)
        if self.hold:
            self.hold(post)
        status = self.status
        post.status, post.answered = status, _tick()
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.end_headers()

    # ----- what it saw
    def snapshot(self) -> list[Post]:
        with self._lock:
            return list(self.posts)

    def count(self, status: int) -> int:
        return sum(1 for p in self.snapshot() if p.status == status)

    def delivered(self) -> list[dict]:
        """Events of the POSTs answered 200, in the order they came in (duplicates kept)."""
        return [e for p in self.snapshot() if p.status == 200 for e in p.events]

    def delivered_with_seq(self) -> list[tuple[int, dict]]:
        return [(p.received, e) for p in self.snapshot() if p.status == 200 for e in p.events]

    def summary(self, limit: int = 40) -> str:
        lines = [f"receiver {self.name} on port {self.port}: {len(self.posts)} POSTs"]
        for p in self.snapshot()[-limit:]:
            evs = ", ".join(_short(e) for e in p.events)
            lines.append(f"  #{p.received} {p.path} -> {p.status} {p.error} [{evs}]")
        return "\n".join(lines)


def _short(event: dict) -> str:
    t = event.get("target") or {}
    return f"{event.get('action')} {t.get('repository')}:{t.get('tag') or ''}@{str(t.get('digest'))[:19]} {t.get('mediaType')}"


# ----- helpers

def endpoint(name: str, receiver: Receiver, path: str = "/events", **extra) -> dict:
    config = {"name": name, "url": receiver.url(path), "timeout": "1s", "backoff": "100ms", "maxbackoff": "500ms"}
    config.update(extra)
    return config


def notifications(*endpoints, **events) -> dict:
    config = {"endpoints": list(endpoints)}
    if events:
        config["events"] = events
    return {"notifications": config}


def find(events, action: str, digest: str, repository: str | None = None) -> list[dict]:
    return [e for e in events if e.get("action") == action and (e.get("target") or {}).get("digest") == digest
            and (repository is None or e["target"].get("repository") == repository)]


def dedupe(events) -> list[dict]:
    """First occurrence of each id, in order."""
    seen, out = set(), []
    for e in events:
        if e.get("id") not in seen:
            seen.add(e.get("id"))
            out.append(e)
    return out


def first_index(events, action: str, digest: str) -> int:
    for i, e in enumerate(events):
        if e.get("action") == action and (e.get("target") or {}).get("digest") == digest:
            return i
    raise AssertionError(f"no {action} event for {digest}")


def layout(tmp_path, name: str, tag: str):
    """A busybox image whose second layer (and so config and manifest) is unique to `name`."""
    return make_busybox_oci_layout(tmp_path / name, tag=tag, extra_layers=[{"etc/which": f"{name}\n".encode()}])


def push(reg, image, repo: str, tag: str):
    skopeo_copy(f"oci:{image.layout_dir}:{image.tag}", reg.ref(repo, tag), reg, "--quiet", "--preserve-digests")


def blob_digests(image) -> list[str]:
    return [d for d, _, _ in image.layers] + [image.config_digest]


def details(reg, *receivers):
    return lambda: "\n".join([r.summary() for r in receivers] + [reg.log_tail(40)])


@pytest.fixture
def receivers():
    """Factory for receivers (not started); all are stopped at teardown. Request it before
    make_registry so that the registry stops first."""
    made: list[Receiver] = []

    def factory(name, **kwargs) -> Receiver:
        made.append(Receiver(name, **kwargs))
        return made[-1]

    yield factory
    for r in made:
        r.hold = None
        r.stop()


# ----- 1. the envelope and the events

def test_events_arrive_with_the_right_content(receivers, make_registry, tmp_path):
    rx = receivers("test").start()
    reg = make_registry(htpasswd={USER: PASSWORD}, delete_enabled=True, extra_config=notifications(
        endpoint("test", rx, headers={"X-Test": ["yes"]}), includereferences=True))
    repo, tag = "notify/app", "1"
    image = layout(tmp_path, "content", tag)
    digest = image.manifest_digest

    push(reg, image, repo, tag)
    skopeo_copy(reg.ref(repo, tag), f"oci:{tmp_path / 'pulled'}:{tag}", reg, "--quiet")
    deleted = raw(reg, "DELETE", f"/v2/{repo}/manifests/{digest}", headers=basic_auth(USER, PASSWORD))
    assert deleted.status == 202, deleted

    def complete():
        ev = rx.delivered()
        return (find(ev, "push", digest, repo) and all(find(ev, "push", d, repo) for d in blob_digests(image))
                and find(ev, "pull", digest, repo) and find(ev, "delete", digest, repo))
    wait_until(complete, what="the manifest and blob push, the manifest pull and the delete events",
               detail=details(reg, rx))
    events = rx.delivered()

    pushed = find(events, "push", digest, repo)[0]
    target = pushed["target"]
    assert target.get("mediaType") == OCI_MANIFEST, pushed
    assert target.get("tag") == tag, pushed
    assert target.get("size") == len(image.manifest) and target.get("length") == len(image.manifest), pushed
    assert str(target.get("url", "")).endswith(f"/v2/{repo}/manifests/{digest}"), pushed
    refs = {r.get("digest") if isinstance(r, dict) else r for r in target.get("references") or []}
    assert refs == set(blob_digests(image)), f"includereferences: references {refs} != layers and config\n{pushed}"
    assert pushed.get("actor", {}).get("name") == USER, pushed
    request = pushed.get("request") or {}
    assert request.get("method") == "PUT", pushed
    assert request.get("id") and request.get("useragent"), pushed
    assert request.get("host") == reg.host, pushed
    assert str(request.get("addr", "")).startswith("127.0.0.1:"), pushed

    for blob in blob_digests(image):
        ev = find(events, "push", blob, repo)[0]
        size = len(image.blobs[blob])
        assert ev["target"].get("size") == size and ev["target"].get("length") == size, ev

    assert find(events, "pull", digest, repo)[0]["target"]["digest"] == digest
    removed = find(events, "delete", digest, repo)[0]
    assert removed.get("request", {}).get("method") == "DELETE", removed

    envelope = DISTRIBUTION_282_ENVELOPE if reg.impl == "distribution" else ENVELOPE
    posts = rx.snapshot()
    for post in posts:
        assert not post.error, post.error
        assert post.path == "/events", post.path
        assert post.headers.get("x-test") == "yes", f"custom header missing: {post.headers}"
        assert post.headers.get("content-type", "").split(";")[0].strip() == envelope, post.headers
        assert set(post.doc) >= {"events"} and post.events, post.doc

    all_events = [e for p in posts for e in p.events]
    for e in all_events:
        assert {"id", "timestamp", "action", "target", "request", "actor", "source"} <= set(e), e
        assert e["action"] in ACTIONS, e
        assert TIMESTAMP.match(str(e["timestamp"])), e
        assert isinstance(e["source"], dict) and e["source"].get("instanceID"), e
    by_id = collections.defaultdict(list)
    for e in all_events:
        by_id[e["id"]].append(json.dumps(e, sort_keys=True))
    shared = {i: set(v) for i, v in by_id.items() if len(set(v)) > 1}
    assert not shared, f"different events share an id: {shared}"
    assert all(e["id"] for e in all_events)


# ----- 2. a receiver that fails, then recovers

def test_events_made_while_the_receiver_fails_arrive_in_order(receivers, make_registry, tmp_path):
    rx = receivers("flaky", status=503).start()
    reg = make_registry(extra_config=notifications(endpoint("flaky", rx)))
    repo = "notify/flaky"
    images = [layout(tmp_path, f"flaky{i}", f"v{i}") for i in range(3)]
    for image in images:
        push(reg, image, repo, image.tag)

    failed = rx.count(503)
    wait_until(lambda: rx.count(503) >= failed + 3, what="three more failed deliveries (503) after the pushes",
               detail=details(reg, rx))
    rx.status = 200

    def complete():
        ev = rx.delivered()
        return all(find(ev, "push", img.manifest_digest, repo) and all(find(ev, "push", d, repo) for d in blob_digests(img))
                   for img in images)
    wait_until(complete, what="every push event once the receiver answers 200", detail=details(reg, rx))

    events = rx.delivered()
    order = [first_index(events, "push", img.manifest_digest) for img in images]
    assert order == sorted(order), f"manifest push events out of order: {order}\n{rx.summary()}"
    for img in images:
        assert first_index(events, "push", img.config_digest) < first_index(events, "push", img.manifest_digest), \
            f"the config blob of {img.tag} arrived after its manifest\n{rx.summary()}"
        tags = {e["target"].get("tag") for e in find(events, "push", img.manifest_digest, repo)}
        assert tags == {img.tag}, tags
    refused = {e["id"] for p in rx.snapshot() if p.status == 503 for e in p.events}
    assert refused, "the failed deliveries carried no events"
    missing = refused - {e["id"] for e in events}
    assert not missing, f"events refused with 503 were never delivered again: {missing}\n{rx.summary()}"


# ----- 3. kill -9 with events pending

@pytest.mark.berth_only("Distribution keeps its notification queue in memory; a kill -9 loses it")
def test_kill_9_loses_no_pending_push_event(receivers, make_registry, tmp_path):
    rx = receivers("after-crash")          # not started yet: its port refuses connections
    reg = make_registry(extra_config=notifications(endpoint("crash", rx)))
    repo = "notify/crash"
    images = [layout(tmp_path, f"crash{i}", f"t{i}") for i in range(3)]
    for image in images:
        push(reg, image, repo, image.tag)
    reg.kill9()
    reg.restart(graceful=False)
    rx.start()

    expected = {(img.manifest_digest, img.tag) for img in images}

    def manifest_pushes():
        return [e for e in dedupe(rx.delivered()) if e.get("action") == "push"
                and e["target"].get("digest") in {d for d, _ in expected}]

    wait_until(lambda: {(e["target"]["digest"], e["target"].get("tag")) for e in manifest_pushes()} >= expected, what="the push events made before the kill -9",
               detail=details(reg, rx))
    got = collections.Counter((e["target"]["digest"], e["target"].get("tag")) for e in manifest_pushes())
    assert set(got) == expected, got
    assert all(n == 1 for n in got.values()), \
        f"after dropping duplicates by id an event still comes twice (a redelivery got a new id): {got}"
    events = rx.delivered()
    for img in images:
        for blob in blob_digests(img):
            assert find(events, "push", blob, repo), f"blob push event for {blob} lost\n{rx.summary()}"


# ----- 4. ignore rules

def test_ignore_rules_drop_pulls_and_ignored_media_types(receivers, make_registry, tmp_path):
    everything = receivers("all").start()
    filtered = receivers("filtered").start()
    reg = make_registry(extra_config=notifications(
        endpoint("all", everything),
        endpoint("filtered", filtered, ignoredmediatypes=[OCTET_STREAM], ignore={"actions": ["pull"]})))
    repo = "notify/ignore"
    image = layout(tmp_path, "ignored", "v1")
    push(reg, image, repo, "v1")
    skopeo_copy(reg.ref(repo, "v1"), f"oci:{tmp_path / 'pulled'}:v1", reg, "--quiet")
    plain = push_blob(reg, repo, b"a plain blob, pushed with one POST\n")
    wait_until(lambda: find(everything.delivered(), "pull", image.manifest_digest, repo)
               and find(everything.delivered(), "push", plain, repo), what="the pull and the plain blob's push at the endpoint without ignore rules", detail=details(reg, everything))

    # Pushed after the pull events reached the outbox: in-order delivery puts them before it.
    marker = layout(tmp_path, "marker", "marker")
    push(reg, marker, repo, "marker")
    wait_until(lambda: find(filtered.delivered(), "push", marker.manifest_digest, repo), what="the marker manifest push at the filtered endpoint",
               detail=details(reg, everything, filtered))
    wait_until(lambda: find(everything.delivered(), "push", marker.manifest_digest, repo), what="the marker manifest push at the endpoint without ignore rules",
               detail=details(reg, everything, filtered))

    got = [e for p in filtered.snapshot() for e in p.events]
    assert not [e for e in got if e.get("action") == "pull"], f"pull events despite ignore.actions\n{filtered.summary()}"
    assert not [e for e in got if e["target"].get("mediaType") == OCTET_STREAM], \
        f"events of an ignored media type\n{filtered.summary()}"
    assert find(got, "push", image.manifest_digest, repo), "the first manifest push is not ignored"
    plain_types = {e["target"].get("mediaType") for e in find(everything.delivered(), "push", plain, repo)}
    if OCTET_STREAM in plain_types:
        assert not find(got, "push", plain, repo), f"plain blob push ({plain_types}) not dropped\n{filtered.summary()}"
    else:
        assert find(got, "push", plain, repo), f"plain blob push ({plain_types}) dropped\n{filtered.summary()}"


# ----- 5. a slow endpoint does not hold up another

def test_a_slow_endpoint_does_not_hold_up_a_fast_one(receivers, make_registry, tmp_path):
    fast = receivers("fast").start()
    slow = receivers("slow").start()
    repo = "notify/slow"
    image = layout(tmp_path, "slowfast", "v1")
    fast_has_it = threading.Event()
    release = threading.Event()
    first = []

    def hold(post):
        if not first:
            first.append(post)
            # The first request waits until the fast endpoint has the manifest push (or 20 s, then the
            # assertions below fail); every later one takes 2 s.
            fast_has_it.wait(20)
        elif not release.is_set():
            release.wait(2)
    slow.hold = hold

    reg = make_registry(extra_config=notifications(endpoint("slow", slow, timeout="30s"), endpoint("fast", fast)))
    try:
        primer = push_blob(reg, repo, b"the first event: keeps the slow endpoint busy\n")
        wait_until(lambda: first, what="the slow endpoint's first request", detail=details(reg, fast, slow))
        push(reg, image, repo, "v1")

        def fast_complete():
            ev = fast.delivered()
            done = find(ev, "push", image.manifest_digest, repo) and all(find(ev, "push", d, repo) for d in blob_digests(image))
            if done:
                fast_has_it.set()
            return done or first[0].answered is not None
        wait_until(fast_complete, what="the push events at the fast endpoint (or the slow endpoint's answer)",
                   timeout=40, detail=details(reg, fast, slow))
        slow_first = first[0]
        wait_until(lambda: slow_first.answered, what="the slow endpoint's first answer", detail=details(reg, fast, slow))

        seq = dict((d, s) for s, e in reversed(fast.delivered_with_seq()) if e.get("action") == "push"
                   for d in [e["target"].get("digest")])
        assert image.manifest_digest in seq, \
            f"the fast endpoint got the manifest push only after the slow one answered\n{fast.summary()}\n{slow.summary()}"
        assert find(fast.delivered(), "push", primer, repo), fast.summary()
        for d in blob_digests(image) + [image.manifest_digest]:
            assert d in seq and slow_first.received < seq[d] < slow_first.answered, \
                (f"{d}: the fast endpoint received it at #{seq.get(d)}, not while the slow one held its first request "
                 f"(#{slow_first.received}..#{slow_first.answered})\n{fast.summary()}\n{slow.summary()}")
        release.set()
        wait_until(lambda: find(slow.delivered(), "push", image.manifest_digest, repo), what="the manifest push at the slow endpoint too", detail=details(reg, fast, slow))
    finally:
        fast_has_it.set()
        release.set()

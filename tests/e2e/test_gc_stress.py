"""Online garbage collection under load (berth only): sweeps every second while clients push, retag,
delete and pull, then a `garbage-collect` run from the command line beside the running server.

Server: storage.delete on, storage.maintenance.gc {interval 1s, delay 2s, untagged true}.

Load (GC_STRESS_SECONDS, default 60): 4 worker threads, each owning one repository (so nobody else
moves its tags), push an image under the tag `pinned` that no operation moves or deletes, then loop
over
  push image      1-3 random layers (4-64 KiB) and a config by monolithic POST ?digest= (some
                  layers are shared by every repository: uploaded again, or mounted from another
                  thread's repository), a random pause of 0-4 s (sometimes longer than the delay),
                  sometimes a HEAD of every blob afterwards (re-uploading what is gone, as docker
                  does), then PUT the manifest by tag
  push index      two image manifests by digest, a pause, an OCI index of them by tag
  push then tag   an image manifest by digest, a pause, the same bytes by tag
  referrer        an artifact manifest (subject = a live image) by digest
  retag           PUT a live manifest under another tag
  delete          a tag, or a live manifest by digest
  pull            GET a live manifest by tag and every blob, index child and referrer of it
and 2 reader threads pull every worker's pinned image (manifest by tag, each blob) in a tight loop,
so sweeps run against a steady stream of reads.

Invariants (asserted, not timing):
  (a) while a thread knows a manifest is reachable (tagged, a child of a tagged index, or a
      referrer of a reachable manifest), GET returns exactly its bytes and every blob of it exactly
      its bytes; the referrers list of a reachable manifest holds its reachable referrers
  (b) a manifest PUT is refused only with 400 MANIFEST_BLOB_UNKNOWN (MANIFEST_UNKNOWN for an
      index whose children are gone), and only when the time since the last touch of the digest
      the error names (blob upload, HEAD or mount; child manifest PUT; the oldest touch when the
      error names none) reached the delay (minus SLACK_SECONDS for clocks and scheduling); a HEAD
      finds a blob gone only after the delay too; never a 5xx
  (c) after the load, a wait longer than the delay (plus a second: the server keeps whole-second
      times), one old tag per thread deleted (fresh garbage already past the delay), and at once
      `berth-registry garbage-collect --delete-untagged` (server still running and sweeping too):
      the blob files on disk are exactly the reachable manifests and their blobs (except blobs
      HEAD-checked or mounted within 2 x delay, which berth still protects), the blobs table
      matches the files, the manifests and tags tables match what the threads know, no link or
      reference is left dangling, unreachable manifests and blobs answer 404, and every reachable
      manifest still pulls byte for byte; a failure lists what the metadata, the threads and the
      log know of each offending digest
  (d) the server log has many `gc sweep` lines and no `request failed` or error line

Timing figures are printed (run pytest with -s to see them). GC_STRESS_SEED fixes the choices.
"""
from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from images import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256_digest
from programs import BERTH_REGISTRY
from registry_http import EMPTY, OCTET
from registry_process import RegistryProcess, implementation_available

pytestmark = pytest.mark.berth_only("online garbage collection (storage.maintenance.gc) is a berth feature")

LOAD_SECONDS = float(os.environ.get("GC_STRESS_SECONDS", "60"))
THREADS = 4
READERS = 2
PINNED = "pinned"
INTERVAL_SECONDS = 1.0
DELAY_SECONDS = 2.0
SLACK_SECONDS = 0.5
TIMESTAMP_GRANULARITY = 1.0   # the server stores times in whole seconds
HEAD_PROTECTION_SECONDS = 2 * DELAY_SECONDS   # berth: a HEAD or mount protects for up to 2 x delay
FINAL_WAIT_SECONDS = float(os.environ.get("GC_STRESS_FINAL_WAIT") or DELAY_SECONDS + TIMESTAMP_GRANULARITY + SLACK_SECONDS)
TIMEOUT = (5, 60)          # connect, read: every request is bounded
TAGS_PER_REPO = 6
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"
EMPTY_TYPE = "application/vnd.oci.empty.v1+json"
ARTIFACT_TYPE = "application/vnd.berth.stress.signature"
ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}
# Three layers every repository uses: a blob shared across repositories, removable only when no
# repository's manifest references it any more.
SHARED_LAYERS = [random.Random(f"shared-{i}").randbytes(8192 + i * 1024) for i in range(3)]

GC_CONFIG = {"storage": {"delete": {"enabled": True}, "maintenance": {"gc": {
    "enabled": True, "interval": "1s", "delay": "2s", "untagged": True, "dryrun": False}}}}
CLI_SUMMARY = re.compile(r"^gc: removed (\d+) manifests?, (\d+) blobs?, (\d+) bytes? freed in ([\d.]+)s$")


class Violation(Exception):
    """An invariant broke; the worker records it and stops (its view of the repository is no
    longer certain)."""


@dataclass
class Pushed:
    digest: str
    body: bytes
    media_type: str
    blobs: dict = field(default_factory=dict)       # digest -> bytes (config and layers)
    children: list = field(default_factory=list)    # index: child manifest digests
    subject: str | None = None                      # referrer: the manifest it refers to
    tagged: bool = False                            # ever pushed by tag (for reporting)


def image_body(config: tuple[str, bytes], layers: list[tuple[str, bytes]], *, subject: Pushed | None = None,
               config_type: str = OCI_CONFIG, artifact_type: str | None = None) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = {"mediaType": config_type, "digest": config[0], "size": len(config[1])}
    doc["layers"] = [{"mediaType": LAYER_TYPE, "digest": d, "size": len(b)} for d, b in layers]
    if subject:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.body)}
    return json.dumps(doc, separators=(",", ":")).encode()


class Worker(threading.Thread):
    def __init__(self, index: int, reg: RegistryProcess, deadline: float, seed: int, peers: list[str]):
        super().__init__(name=f"gc-stress-{index}", daemon=True)
        self.reg, self.deadline = reg, deadline
        self.repo = f"gcstress/w{index}"
        self.peers = [p for p in peers if p != self.repo]
        self.rng = random.Random(seed * 1000 + index)
        self.session = reg.session()
        self.tags: dict[str, str] = {}              # tag -> manifest digest, as last acknowledged
        self.manifests: dict[str, Pushed] = {}      # every acknowledged manifest
        self.uploaded: set[str] = set()             # every blob this worker uploaded or mounted
        self.touch_log: dict[str, list] = {}        # blob digest -> [(what, wall-clock time)] (diagnostics)
        self.violations: list[str] = []
        self.stats = Counter()
        self.put_records: list[dict] = []           # acknowledged PUTs: kind, put time, touch ages
        self.longest_survival = 0.0                 # longest touch->PUT age of an accepted PUT
        self.pinned: Pushed | None = None           # under tag PINNED, never moved or deleted
        self.ready = threading.Event()              # set once the pinned image is pushed
        self.shortest_refusal: float | None = None  # shortest touch->PUT age of a refused PUT

    # ----- HTTP
    def request(self, method: str, path: str, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        started = time.monotonic()
        try:
            r = self.session.request(method, self.reg.url + path, **kwargs)
        except requests.RequestException as e:
            raise Violation(f"{method} {path}: no response ({e!r}) after {time.monotonic() - started:.1f}s")
        ended = time.monotonic()
        self.stats["requests"] += 1
        if r.status_code >= 500:
            raise Violation(f"{method} {path} -> {r.status_code} {r.text[:400]!r}")
        return r, started, ended

    @staticmethod
    def error_detail(r) -> str | None:
        try:
            detail = r.json()["errors"][0].get("detail")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return None
        if isinstance(detail, dict):
            detail = detail.get("digest") or detail.get("Digest")
        return detail if isinstance(detail, str) else None

    @staticmethod
    def error_code(r) -> str | None:
        try:
            return r.json()["errors"][0]["code"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def upload(self, data: bytes) -> tuple[str, float]:
        """Monolithic POST ?digest=; returns (digest, touch time = request start)."""
        d = sha256_digest(data)
        r, started, _ = self.request("POST", f"/v2/{self.repo}/blobs/uploads/?digest={d}", data=data, headers=OCTET)
        if r.status_code != 201:
            raise Violation(f"POST ?digest={d} ({len(data)} bytes) -> {r.status_code} {r.text[:300]!r}")
        self.uploaded.add(d)
        self.touched(d, "upload", started)
        self.stats["blob uploads"] += 1
        return d, started

    def mount_or_upload(self, data: bytes) -> tuple[str, float]:
        """Cross-repository mount from another thread's repository; when that repository does not
        hold the blob (202), finish the upload session with the bytes."""
        d = sha256_digest(data)
        source = self.rng.choice(self.peers)
        r, started, _ = self.request("POST", f"/v2/{self.repo}/blobs/uploads/?mount={d}&from={source}")
        if r.status_code == 201:
            self.stats["mounts"] += 1
            self.uploaded.add(d)
            self.touched(d, "mount", started)
            return d, started
        if r.status_code != 202 or not r.headers.get("Location"):
            raise Violation(f"POST ?mount={d}&from={source} -> {r.status_code} {r.text[:300]!r}")
        location = r.headers["Location"]
        if "://" in location:
            location = "/" + location.split("://", 1)[1].split("/", 1)[1]
        sep = "&" if "?" in location else "?"
        r, started, _ = self.request("PUT", f"{location}{sep}digest={d}", data=data, headers=OCTET)
        if r.status_code != 201:
            raise Violation(f"PUT {location} digest={d} after an unmountable mount -> {r.status_code} {r.text[:300]!r}")
        self.stats["mount fell back to upload"] += 1
        self.uploaded.add(d)
        self.touched(d, "upload (mount fallback)", started)
        return d, started

    def touched(self, digest: str, what: str, started_monotonic: float):
        wall = time.time() - (time.monotonic() - started_monotonic)
        self.touch_log.setdefault(digest, []).append((what, wall))

    def put_manifest(self, reference: str, body: bytes, media_type: str):
        return self.request("PUT", f"/v2/{self.repo}/manifests/{reference}", data=body,
                            headers={"Content-Type": media_type})

    # ----- the state a worker knows
    def live(self) -> set[str]:
        """Manifests reachable from this repository's tags: tagged, index children, referrers."""
        live = set(self.tags.values())
        frontier = list(live)
        while frontier:
            m = self.manifests[frontier.pop()]
            for child in m.children:
                if child not in live:
                    live.add(child)
                    frontier.append(child)
            # referrers of m
            for other in self.manifests.values():
                if other.subject == m.digest and other.digest not in live:
                    live.add(other.digest)
                    frontier.append(other.digest)
        return live

    def live_blobs(self) -> set[str]:
        return {d for m in self.live() for d in self.manifests[m].blobs}

    # ----- invariant (b)
    def check_put(self, r, ended: float, touches: dict, digest: str, what: str, refused_code: str) -> bool:
        """True if accepted (201); False for a refusal the delay explains; Violation otherwise.

        `touches`: digest -> when what the manifest references was last uploaded, HEAD-checked,
        mounted (blobs) or pushed (child manifests), as the start of that request. The age that
        counts is the one of the digest the error names (its detail), else of the oldest."""
        age, named = ended - min(touches.values()), "the oldest reference"
        if r.status_code != 201:
            detail = self.error_detail(r)
            if detail in touches:
                age, named = ended - touches[detail], detail
        if r.status_code == 201:
            got = r.headers.get("Docker-Content-Digest")
            if got != digest:
                raise Violation(f"{what}: 201 with Docker-Content-Digest {got}, expected {digest}")
            self.longest_survival = max(self.longest_survival, age)
            return True
        code = self.error_code(r)
        if r.status_code == 400 and code == refused_code:
            if age >= DELAY_SECONDS - SLACK_SECONDS:
                self.stats[f"PUT refused {refused_code} (swept after the delay)"] += 1
                self.shortest_refusal = age if self.shortest_refusal is None else min(self.shortest_refusal, age)
                return False
            raise Violation(f"{what}: refused 400 {code} only {age:.2f}s after the last upload/HEAD/mount/push of "
                            f"{named} (delay {DELAY_SECONDS}s, slack {SLACK_SECONDS}s); touch ages "
                            f"{ {d[:19]: round(ended - t, 2) for d, t in touches.items()} }: {r.text[:400]!r}")
        raise Violation(f"{what}: expected 201 (or 400 {refused_code} after the delay), got "
                        f"{r.status_code} {r.text[:400]!r} ({age:.2f}s after the last touch of {named})")

    # ----- building blocks
    def pause(self) -> float:
        p = 0.0 if self.rng.random() < 0.25 else self.rng.uniform(0, 4)
        time.sleep(max(0.0, min(p, self.deadline + 5 - time.monotonic())))
        return p

    def fresh_blobs(self) -> tuple[dict, dict]:
        """Config + 1-3 layers (sometimes a shared one); returns ({digest: bytes}, {digest: touch})."""
        blobs, touches = {}, {}
        layers = [os.urandom(self.rng.randint(4096, 65536)) for _ in range(self.rng.randint(1, 3))]
        if self.rng.random() < 0.4:
            layers[0] = self.rng.choice(SHARED_LAYERS)
        for data in layers:
            shared = data in SHARED_LAYERS
            d, t = self.mount_or_upload(data) if shared and self.rng.random() < 0.5 else self.upload(data)
            blobs[d], touches[d] = data, t
        config = json.dumps({"architecture": "amd64", "os": "linux", "nonce": os.urandom(8).hex(),
                             "rootfs": {"type": "layers", "diff_ids": list(blobs)}}).encode()
        d, t = self.upload(config)
        self.config_digest = d
        return {d: config, **blobs}, {d: t, **touches}

    def image(self, blobs: dict) -> Pushed:
        config = (self.config_digest, blobs[self.config_digest])
        layers = [(d, b) for d, b in blobs.items() if d != self.config_digest]
        body = image_body(config, layers)
        return Pushed(sha256_digest(body), body, OCI_MANIFEST, dict(blobs))

    def refresh_by_head(self, blobs: dict, touches: dict):
        """What docker does before a manifest PUT: HEAD each blob, upload again what is missing."""
        self.stats["HEAD refreshes"] += 1
        for d, data in blobs.items():
            r, started, _ = self.request("HEAD", f"/v2/{self.repo}/blobs/{d}")
            if r.status_code == 200:
                touches[d] = started
                self.touched(d, "HEAD 200", started)
                continue
            if r.status_code != 404:
                raise Violation(f"HEAD blob {d} -> {r.status_code}")
            age = time.monotonic() - touches[d]
            if age < DELAY_SECONDS - SLACK_SECONDS:
                raise Violation(f"HEAD blob {d} -> 404 only {age:.2f}s after it was uploaded (delay {DELAY_SECONDS}s)")
            self.stats["HEAD found a blob swept"] += 1
            _, touches[d] = self.upload(data)

    def record(self, kind: str, put_started: float, touches: dict):
        self.put_records.append({"kind": kind, "put": put_started,
                                 "touch_ages": sorted(put_started - t for t in touches.values())})

    def accept(self, m: Pushed, tag: str | None):
        self.manifests[m.digest] = m
        if tag:
            self.tags[tag] = m.digest
            m.tagged = True

    # ----- operations
    def op_push_image(self):
        blobs, touches = self.fresh_blobs()
        paused = self.pause()
        if paused > 1.0 and self.rng.random() < 0.4:
            self.refresh_by_head(blobs, touches)
        m = self.image(blobs)
        tag = f"t{self.rng.randrange(TAGS_PER_REPO)}"
        r, started, ended = self.put_manifest(tag, m.body, m.media_type)
        if self.check_put(r, ended, touches, m.digest,
                          f"PUT image {m.digest} as {self.repo}:{tag} after a {paused:.2f}s pause", "MANIFEST_BLOB_UNKNOWN"):
            self.accept(m, tag)
            self.record("image by tag", started, touches)
            self.stats["images pushed by tag"] += 1

    def push_by_digest(self, what: str) -> tuple[Pushed, float] | None:
        blobs, touches = self.fresh_blobs()
        m = self.image(blobs)
        r, started, ended = self.put_manifest(m.digest, m.body, m.media_type)
        if not self.check_put(r, ended, touches, m.digest, f"PUT {what} {m.digest} by digest",
                              "MANIFEST_BLOB_UNKNOWN"):
            return None
        self.accept(m, None)
        self.record(f"{what} by digest", started, touches)
        return m, started

    def op_push_index(self):
        children = []
        for _ in range(2):
            pushed = self.push_by_digest("index child")
            if pushed is None:
                return
            children.append(pushed)
        paused = self.pause()
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": c.media_type, "digest": c.digest, "size": len(c.body),
             "platform": {"architecture": arch, "os": "linux"}}
            for (c, _), arch in zip(children, ("amd64", "arm64"))]}, separators=(",", ":")).encode()
        index = Pushed(sha256_digest(body), body, OCI_INDEX, children=[c.digest for c, _ in children])
        tag = f"t{self.rng.randrange(TAGS_PER_REPO)}"
        r, started, ended = self.put_manifest(tag, body, OCI_INDEX)
        if self.check_put(r, ended, {c.digest: t for c, t in children}, index.digest,
                          f"PUT index {index.digest} as {self.repo}:{tag} after a {paused:.2f}s pause", "MANIFEST_UNKNOWN"):
            self.accept(index, tag)
            self.record("index by tag", started, {c.digest: t for c, t in children})
            self.stats["indexes pushed by tag"] += 1

    def op_push_then_tag(self):
        pushed = self.push_by_digest("image")
        if pushed is None:
            return
        m, put_at = pushed
        paused = self.pause()
        tag = f"t{self.rng.randrange(TAGS_PER_REPO)}"
        r, started, ended = self.put_manifest(tag, m.body, m.media_type)
        if self.check_put(r, ended, {m.digest: put_at}, m.digest,
                          f"PUT untagged image {m.digest} as {self.repo}:{tag} {paused:.2f}s after pushing it by digest",
                          "MANIFEST_BLOB_UNKNOWN"):
            self.accept(m, tag)
            self.stats["untagged images tagged later"] += 1

    def op_referrer(self):
        images = [d for d in self.live() if self.manifests[d].media_type == OCI_MANIFEST
                  and self.manifests[d].subject is None]
        if not images:
            return self.op_push_image()
        subject = self.manifests[self.rng.choice(images)]
        payload = os.urandom(self.rng.randint(256, 4096))
        blobs, touches = {}, {}
        for data in (EMPTY, payload):
            d, touches[d] = self.upload(data)
            blobs[d] = data
        body = image_body((sha256_digest(EMPTY), EMPTY), [(sha256_digest(payload), payload)], subject=subject,
                          config_type=EMPTY_TYPE, artifact_type=ARTIFACT_TYPE)
        m = Pushed(sha256_digest(body), body, OCI_MANIFEST, blobs, subject=subject.digest)
        r, started, ended = self.put_manifest(m.digest, body, OCI_MANIFEST)
        if self.check_put(r, ended, touches, m.digest, f"PUT referrer {m.digest} of {subject.digest}",
                          "MANIFEST_BLOB_UNKNOWN"):
            if r.headers.get("OCI-Subject") != subject.digest:
                raise Violation(f"PUT referrer {m.digest}: OCI-Subject {r.headers.get('OCI-Subject')!r}, expected {subject.digest}")
            self.accept(m, None)
            self.record("referrer by digest", started, touches)
            self.stats["referrers pushed"] += 1

    def op_retag(self):
        if not self.tags:
            return self.op_push_image()
        tag = self.rng.choice(sorted(self.tags))
        m = self.manifests[self.tags[tag]]
        other = f"t{self.rng.randrange(TAGS_PER_REPO)}"
        r, _, _ = self.put_manifest(other, m.body, m.media_type)
        if r.status_code != 201:
            raise Violation(f"retag: PUT {m.digest} (tagged {tag}, reachable) as {self.repo}:{other} -> "
                            f"{r.status_code} {r.text[:400]!r}; what a live manifest references must never be swept")
        self.tags[other] = m.digest
        self.stats["retags"] += 1

    def movable_tags(self) -> list[str]:
        """Tags an operation may delete, and whose manifest it may delete: not the pinned one."""
        pinned = self.pinned.digest if self.pinned else None
        return sorted(t for t, d in self.tags.items() if t != PINNED and d != pinned)

    def op_delete_tag(self):
        if not self.movable_tags():
            return
        tag = self.rng.choice(self.movable_tags())
        r, _, _ = self.request("DELETE", f"/v2/{self.repo}/manifests/{tag}")
        if r.status_code != 202:
            raise Violation(f"DELETE tag {self.repo}:{tag} (known) -> {r.status_code} {r.text[:300]!r}")
        del self.tags[tag]
        r, _, _ = self.request("GET", f"/v2/{self.repo}/manifests/{tag}", headers=ACCEPT)
        if r.status_code != 404:
            raise Violation(f"GET {self.repo}:{tag} after deleting the tag -> {r.status_code}")
        self.stats["tags deleted"] += 1

    def op_delete_manifest(self):
        if not self.movable_tags():
            return
        digest = self.tags[self.rng.choice(self.movable_tags())]
        r, _, _ = self.request("DELETE", f"/v2/{self.repo}/manifests/{digest}")
        if r.status_code != 202:
            raise Violation(f"DELETE manifest {self.repo}@{digest} (tagged) -> {r.status_code} {r.text[:300]!r}")
        for tag in [t for t, d in self.tags.items() if d == digest]:
            del self.tags[tag]
        r, _, _ = self.request("GET", f"/v2/{self.repo}/manifests/{digest}", headers=ACCEPT)
        if r.status_code != 404:
            raise Violation(f"GET {self.repo}@{digest} after deleting it -> {r.status_code}")
        self.stats["manifests deleted"] += 1

    # ----- invariant (a)
    def verify_manifest(self, reference: str, m: Pushed, why: str):
        r, _, _ = self.request("GET", f"/v2/{self.repo}/manifests/{reference}", headers=ACCEPT)
        if r.status_code != 200 or r.content != m.body:
            sep = "@" if reference.startswith("sha256:") else ":"
            raise Violation(f"GET {self.repo}{sep}{reference} ({why}, {m.digest}) -> {r.status_code}, "
                            f"{'the expected bytes' if r.content == m.body else repr(r.content[:300])}")
        for d, data in m.blobs.items():
            r, _, _ = self.request("GET", f"/v2/{self.repo}/blobs/{d}")
            if r.status_code != 200 or sha256_digest(r.content) != d or r.content != data:
                raise Violation(f"GET blob {d} of {m.digest} ({why}) -> {r.status_code}, {len(r.content)} bytes "
                                f"(expected {len(data)}), sha256 {'ok' if sha256_digest(r.content) == d else 'WRONG'}")
        self.stats["manifests verified"] += 1

    def verify_tree(self, tag: str):
        """The tagged manifest, its index children and the referrers of each (recursively)."""
        live = self.live()
        top = self.manifests[self.tags[tag]]
        self.verify_manifest(tag, top, f"tagged {tag}")
        todo = [top]
        while todo:
            m = todo.pop()
            for child in m.children:
                self.verify_manifest(child, self.manifests[child], f"child of {m.digest}, reachable from {tag}")
                todo.append(self.manifests[child])
            refs = [o for o in self.manifests.values() if o.subject == m.digest and o.digest in live]
            if refs:
                r, _, _ = self.request("GET", f"/v2/{self.repo}/referrers/{m.digest}")
                listed = {x.get("digest") for x in r.json().get("manifests", [])} if r.status_code == 200 else set()
                missing = {o.digest for o in refs} - listed
                if r.status_code != 200 or missing:
                    raise Violation(f"GET referrers of {m.digest} -> {r.status_code}, missing {sorted(missing)}")
            for o in refs:
                self.verify_manifest(o.digest, o, f"referrer of {m.digest}, reachable from {tag}")
                todo.append(o)

    def op_pull(self):
        if self.tags:
            self.verify_tree(self.rng.choice(sorted(self.tags)))
            self.stats["pulls"] += 1

    OPS = [("op_push_image", 40), ("op_push_index", 8), ("op_push_then_tag", 8), ("op_referrer", 8),
           ("op_retag", 10), ("op_delete_tag", 7), ("op_delete_manifest", 6), ("op_pull", 13)]

    def push_pinned(self):
        blobs, touches = self.fresh_blobs()
        m = self.image(blobs)
        r, started, ended = self.put_manifest(PINNED, m.body, m.media_type)
        if not self.check_put(r, ended, touches, m.digest, f"PUT pinned image as {self.repo}:{PINNED}", "MANIFEST_BLOB_UNKNOWN"):
            raise Violation(f"PUT {self.repo}:{PINNED} refused right after its uploads")
        self.accept(m, PINNED)
        self.pinned = m

    def run(self):
        names, weights = zip(*self.OPS)
        try:
            try:
                self.push_pinned()
            finally:
                self.ready.set()
            while time.monotonic() < self.deadline:
                op = self.rng.choices(names, weights)[0]
                getattr(self, op)()
                self.stats[op] += 1
                if self.tags and self.rng.random() < 0.5:
                    self.verify_tree(self.rng.choice(sorted(self.tags)))
        except Violation as v:
            self.violations.append(f"{self.repo}: {v}")
        except Exception as e:  # a bug in this test, or a reply it cannot parse: report, never hang
            self.violations.append(f"{self.repo}: unexpected {e!r}")


class Reader(threading.Thread):
    """Pulls every worker's pinned image (manifest by tag, then each blob) as fast as it can: reads
    racing the sweeps; what it reads must never change or go."""

    def __init__(self, index: int, reg: RegistryProcess, deadline: float, workers: list[Worker]):
        super().__init__(name=f"gc-stress-reader-{index}", daemon=True)
        self.reg, self.deadline, self.workers = reg, deadline, workers
        self.session = reg.session()
        self.violations: list[str] = []
        self.pulls = 0
        self.requests = 0

    def get(self, path: str, **kwargs):
        self.requests += 1
        try:
            return self.session.get(self.reg.url + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as e:
            raise Violation(f"reader: GET {path}: no response ({e!r})")

    def run(self):
        try:
            for w in self.workers:
                w.ready.wait(timeout=120)
            pinned = [(w.repo, w.pinned) for w in self.workers if w.pinned]
            while pinned and time.monotonic() < self.deadline:
                for repo, m in pinned:
                    r = self.get(f"/v2/{repo}/manifests/{PINNED}", headers=ACCEPT)
                    if r.status_code != 200 or r.content != m.body:
                        raise Violation(f"reader: GET {repo}:{PINNED} ({m.digest}) -> {r.status_code} "
                                        f"{'the expected bytes' if r.content == m.body else repr(r.content[:300])}")
                    for d, data in m.blobs.items():
                        r = self.get(f"/v2/{repo}/blobs/{d}")
                        if r.status_code != 200 or r.content != data:
                            raise Violation(f"reader: GET blob {d} of {repo}:{PINNED} -> {r.status_code}, "
                                            f"{len(r.content)} bytes (expected {len(data)})")
                    self.pulls += 1
        except Violation as v:
            self.violations.append(str(v))
        except Exception as e:
            self.violations.append(f"reader: unexpected {e!r}")


# ----- final checks

def blob_files(root: Path) -> dict[str, Path]:
    base = root / "docker" / "registry" / "v2" / "blobs" / "sha256"
    return {"sha256:" + p.parent.name: p for p in base.glob("*/*/data")} if base.is_dir() else {}


def read_db(root: Path) -> dict:
    path = root / "berth" / "metadata.sqlite"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "blobs" in tables, f"no blobs table in {path} (tables: {sorted(tables)})"
        names = dict(db.execute("SELECT id, name FROM repositories"))
        return {
            "blobs": {r[0] for r in db.execute("SELECT digest FROM blobs")},
            "manifests": {(names[r[0]], r[1]) for r in db.execute("SELECT repository_id, digest FROM manifests")},
            "tags": {(names[r[0]], r[1]): r[2] for r in db.execute("SELECT repository_id, name, digest FROM tags")},
            "links": {(names[r[0]], r[1]) for r in db.execute("SELECT repository_id, digest FROM repository_blobs")},
            "references": {(names[r[0]], r[1], r[2]) for r in
                           db.execute("SELECT repository_id, parent, child FROM manifest_references")},
        }
    finally:
        db.close()


def sample(items, n=60):
    items = sorted(items)
    return items if len(items) <= n else random.Random(0).sample(items, n)


def explain(reg: RegistryProcess, workers: list[Worker], digest: str, cli_started: float) -> str:
    """What the metadata, the workers and the log know of one digest (times relative to the start
    of the garbage-collect run), for a failure message."""
    out = [f"  -- {digest} (times in s relative to the garbage-collect start):"]
    db = sqlite3.connect(f"file:{reg.root_dir / 'berth' / 'metadata.sqlite'}?mode=ro", uri=True, timeout=30)
    try:
        for table, column in (("blobs", "digest"), ("blob_removals", "digest"), ("repository_blobs", "digest"),
                              ("manifests", "digest"), ("manifest_references", "child"), ("manifest_references", "parent"),
                              ("tags", "digest")):
            try:
                cur = db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (digest,))
            except sqlite3.Error:
                continue
            cols = [c[0] for c in cur.description]
            for row in cur.fetchall():
                shown = {c: (round(v - cli_started, 1) if c in ("created_at", "protected_until", "started_at", "pushed_at")
                             and isinstance(v, (int, float)) else v) for c, v in zip(cols, row) if c != column}
                out.append(f"     {table}: {shown}")
    finally:
        db.close()
    for w in workers:
        for what, at in w.touch_log.get(digest, []):
            out.append(f"     {w.repo}: {what} at {at - cli_started:+.2f}")
        for m in w.manifests.values():
            if digest in m.blobs or digest == m.digest:
                tags = [t for t, d in w.tags.items() if d == m.digest]
                out.append(f"     {w.repo}: {'is' if digest == m.digest else 'in'} manifest {m.digest[:19]} "
                           f"(tags now {tags}, live {m.digest in w.live()})")
    lines = [line for line in reg.log_path.read_text(errors="replace").splitlines() if digest[7:] in line]
    out += [f"     log: {line[:260]}" for line in lines[-8:]]
    return "\n".join(out)


def final_checks(reg: RegistryProcess, workers: list[Worker], cli_started: float) -> list[str]:
    problems = []
    files = blob_files(reg.root_dir)
    live = {w.repo: w.live() for w in workers}
    expected_files = set()
    for w in workers:
        expected_files |= live[w.repo] | w.live_blobs()
    missing, extra = expected_files - set(files), set(files) - expected_files
    # berth protects a blob it reported present (HEAD) or mounted for up to twice the delay (the
    # protection is rewritten only when it runs out): such leftovers are expected, not garbage.
    protected = set()
    for d in extra:
        checks = [t for w in workers for what, t in w.touch_log.get(d, []) if what in ("HEAD 200", "mount")]
        if checks and cli_started - max(checks) < HEAD_PROTECTION_SECONDS + TIMESTAMP_GRANULARITY + SLACK_SECONDS:
            protected.add(d)
    if protected:
        print(f"  {len(protected)} unreachable blobs left after garbage-collect, HEAD-checked or mounted less than "
              f"{HEAD_PROTECTION_SECONDS:g}s before it (still protected): {sorted(protected)[:5]}")
    extra -= protected
    if missing:
        problems.append(f"DATA LOSS: {len(missing)} blob files of reachable manifests are gone: {sample(missing, 10)}")
    if extra:
        problems.append(f"garbage left after the wait and garbage-collect: {len(extra)} unreachable blob files, "
                        f"e.g. {sample(extra, 10)}")
    for d in sample(missing | extra, 5):
        problems.append(explain(reg, workers, d, cli_started))

    db = read_db(reg.root_dir)
    rows_without_file, files_without_row = db["blobs"] - set(files), set(files) - db["blobs"]
    if rows_without_file:
        problems.append(f"{len(rows_without_file)} blobs rows without a file: {sample(rows_without_file, 10)}")
    if files_without_row:
        problems.append(f"{len(files_without_row)} blob files without a blobs row: {sample(files_without_row, 10)}")
    expected_manifests = {(repo, d) for repo, ds in live.items() for d in ds}
    if db["manifests"] - expected_manifests:
        problems.append(f"unreachable manifests still in the manifests table: {sample(db['manifests'] - expected_manifests, 10)}")
    if expected_manifests - db["manifests"]:
        problems.append(f"reachable manifests missing from the manifests table: {sample(expected_manifests - db['manifests'], 10)}")
    expected_tags = {(w.repo, t): d for w in workers for t, d in w.tags.items()}
    if db["tags"] != expected_tags:
        diff = set(db["tags"].items()) ^ set(expected_tags.items())
        problems.append(f"tags table differs from what the clients did: {sample(diff, 10)}")
    dangling = {(repo, d) for repo, d in db["links"] if d not in files}
    if dangling:
        problems.append(f"{len(dangling)} repository_blobs links to blobs without a file: {sample(dangling, 10)}")
    orphan_refs = {(repo, p, c) for repo, p, c in db["references"] if (repo, p) not in db["manifests"]}
    if orphan_refs:
        problems.append(f"{len(orphan_refs)} manifest_references rows of removed manifests: {sample(orphan_refs, 5)}")

    # Through the API: everything reachable pulls byte for byte; what is gone answers 404.
    s = reg.session()
    for w in workers:
        for tag in sorted(w.tags):
            try:
                w.verify_tree(tag)
            except Violation as v:
                problems.append(f"after garbage-collect: {w.repo}: {v}")
        for d in sample(set(w.manifests) - live[w.repo]):
            r = s.get(f"{reg.url}/v2/{w.repo}/manifests/{d}", headers=ACCEPT, timeout=TIMEOUT)
            if r.status_code != 404:
                problems.append(f"unreachable manifest {w.repo}@{d} -> GET {r.status_code} after garbage-collect")
        # Blobs still protected by a recent HEAD or mount (see above) may rightly still be there.
        gone = w.uploaded - w.live_blobs() - {d for ww in workers for d in ww.live_blobs()} - protected
        for d in sample(gone):
            r = s.head(f"{reg.url}/v2/{w.repo}/blobs/{d}", timeout=TIMEOUT)
            if r.status_code != 404:
                problems.append(f"unreferenced blob {w.repo}@{d} -> HEAD {r.status_code} after garbage-collect")
    return problems


def sweep_lines(log_text: str) -> list[dict]:
    sweeps = []
    for line in log_text.splitlines():
        if "gc sweep" not in line:
            continue
        fields = {}
        try:
            doc = json.loads(line)
            fields = {k: str(v) for k, v in doc.items()}
        except ValueError:
            fields = dict(re.findall(r"(\w+)=\"?([^\s\"]+)", line))
        sweeps.append(fields)
    return sweeps


def number(text) -> float:
    m = re.match(r"[\d.]+", str(text or ""))
    return float(m.group(0)) if m else 0.0


def duration_seconds(text) -> float:
    m = re.match(r"([\d.]+)\s*(ms|us|µs|s)?", str(text or ""))
    if not m:
        return 0.0
    return float(m.group(1)) * {"ms": 1e-3, "us": 1e-6, "µs": 1e-6}.get(m.group(2) or "s", 1.0)


def test_gc_sweeps_under_load_keep_everything_reachable(tmp_path):
    ok, why = implementation_available("berth")
    if not ok:
        pytest.skip(why)
    helped = subprocess.run([str(BERTH_REGISTRY), "garbage-collect", "--help"], capture_output=True, text=True, timeout=30)
    assert helped.returncode == 0, f"{BERTH_REGISTRY} has no garbage-collect command:\n{helped.stderr[-1000:]}"

    seed = int(os.environ.get("GC_STRESS_SEED") or random.randrange(1 << 30))
    reg = RegistryProcess(tmp_path / "registry", "berth", extra_config=GC_CONFIG)
    reg.start()
    try:
        started = time.monotonic()
        repos = [f"gcstress/w{i}" for i in range(THREADS)]
        workers = [Worker(i, reg, started + LOAD_SECONDS, seed, repos) for i in range(THREADS)]
        readers = [Reader(i, reg, started + LOAD_SECONDS, workers) for i in range(READERS)]
        for t in workers + readers:
            t.start()
        for t in workers + readers:
            t.join(timeout=max(0.0, started + LOAD_SECONDS + 240 - time.monotonic()))
        hung = [t.name for t in workers + readers if t.is_alive()]
        load_seconds = time.monotonic() - started
        violations = [v for t in workers + readers for v in t.violations]
        stats = sum((w.stats for w in workers), Counter())
        stats["reader pulls of pinned images"] = sum(r.pulls for r in readers)
        stats["reader requests"] = sum(r.requests for r in readers)
        print(f"\n[gc stress] seed {seed}; {load_seconds:.1f}s of load, {THREADS} worker and {READERS} reader threads")
        for k in sorted(stats):
            print(f"  {k}: {stats[k]}")
        survivals = [w.longest_survival for w in workers]
        refusals = [w.shortest_refusal for w in workers if w.shortest_refusal is not None]
        print(f"  longest touch-to-PUT age of an accepted PUT: {max(survivals):.2f}s; "
              f"shortest of a refused one: {min(refusals) if refusals else float('nan'):.2f}s "
              f"(delay {DELAY_SECONDS}s)")
        assert not hung, f"workers still running {240}s after the load ended: {hung}"
        assert not violations, "invariants broke during the load:\n" + "\n".join(violations) + "\n" + reg.log_tail(40)
        assert stats["images pushed by tag"] > 20, f"too little load to mean anything: {dict(stats)}"

        # (c) past the delay, a sweep from the command line while the server keeps sweeping too.
        # The server keeps whole-second timestamps and rounds towards keeping, so what was
        # stored last may stay up to a second longer than the delay.
        time.sleep(FINAL_WAIT_SECONDS)
        # Fresh garbage that is already past the delay (manifests pushed long ago), so the
        # command-line sweep has work and races the server's own sweep for it.
        untagged_now = 0
        for w in workers:
            if w.movable_tags():
                w.op_delete_tag()
                untagged_now += 1
        cli_started = time.time()
        cli = subprocess.run([str(BERTH_REGISTRY), "garbage-collect", "--delete-untagged", str(reg.config_path)],
                             capture_output=True, text=True, timeout=300)
        output = (cli.stdout + cli.stderr).strip()
        assert cli.returncode == 0, f"garbage-collect exited {cli.returncode}:\n{output[-3000:]}"
        last = cli.stdout.strip().splitlines()[-1] if cli.stdout.strip() else ""
        summary = CLI_SUMMARY.search(last)
        assert summary, f"garbage-collect's last line is not the summary: {last!r}\n{output[-2000:]}"
        print(f"  garbage-collect (right after deleting {untagged_now} old tags): {last}")
        problems = final_checks(reg, workers, cli_started)
        assert not problems, "after the load and garbage-collect:\n" + "\n".join(problems) + "\n" + reg.log_tail(40)

        # (d) the server swept all along, and nothing failed.
        log_text = reg.log_path.read_text(errors="replace")
        sweeps = sweep_lines(log_text)
        removed = {k: sum(number(s.get(k)) for s in sweeps) for k in ("manifests", "blobs", "bytes")}
        durations = [duration_seconds(s.get("duration")) for s in sweeps]
        print(f"  server sweeps: {len(sweeps)}; removed {removed['manifests']:.0f} manifests, {removed['blobs']:.0f} "
              f"blobs, {removed['bytes']:.0f} bytes; longest sweep {max(durations, default=0):.3f}s")
        assert len(sweeps) >= max(5, int(load_seconds / INTERVAL_SECONDS / 6)), \
            f"only {len(sweeps)} 'gc sweep' log lines in {load_seconds:.0f}s with interval {INTERVAL_SECONDS}s"
        for s in sweeps[:1]:
            missing = [k for k in ("manifests", "blobs", "bytes", "duration") if k not in s]
            assert not missing, f"'gc sweep' line lacks {missing}: {s}"
        assert removed["blobs"] > 0, "the server's sweeps removed no blob at all during the load"
        bad = [line for line in log_text.splitlines()
               if "request failed" in line or re.match(r"^\S+\s+(error|critical)\s", line)
               or '"level":"error"' in line or '"level":"critical"' in line]
        assert not bad, "errors in the server log:\n" + "\n".join(bad[:30])
    finally:
        reg.close()

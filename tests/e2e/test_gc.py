"""Online garbage collection, retention rules and immutable tags, through the real binary.

berth only (Distribution 2.8.2 has none of these as an online feature); test_unimported_... starts
CNCF Distribution (/usr/bin/docker-registry) itself to make a Distribution storage root.

Sweeps run with `berth-registry garbage-collect [--dry-run] [--delete-untagged] CONFIG` while the
server serves the same root. Every server here has `storage.maintenance.gc` with `delay: 0s` (2s or
30s where the grace period is under test) and `interval: 1h`, so the server's own sweep runs only
once, at start-up, on an empty root. berth keeps its timestamps in whole seconds and protects a new
blob for at least one second (two after a HEAD or mount) even with `delay: 0s`: before a sweep on
such a root, wait_out_protection() waits for those to run out, so results do not depend on timing.
Images are built from busybox-static (images.py) and pushed and pulled with skopeo, or pushed by raw
HTTP where the test needs exact manifests (indexes, referrers).

After each sweep the storage is checked against itself: every row of the metadata's `blobs` table
has its file under docker/registry/v2/blobs and every file has its row (same size), and no
repository link or manifest row names a file that is gone.
"""
from __future__ import annotations

import copy
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from images import OCI_INDEX, OCI_MANIFEST, assert_same_blobs, layout_blobs_verified, make_busybox_oci_layout, sha256_digest
from programs import BERTH_REGISTRY
from registry_http import EMPTY, assert_error, image_manifest, push_blob, raw
from registry_process import RegistryProcess, deep_merge, implementation_available
from skopeo_support import skopeo, skopeo_fails

pytestmark = pytest.mark.berth_only("online garbage collection, retention and immutable tags are berth features")

PLAIN = "--dest-tls-verify=false"
PLAIN_SRC = "--src-tls-verify=false"
FAILPOINT = "BERTH_FAILPOINT_GC_ABORT_AFTER_DELETES"
ARTIFACT = "application/vnd.berth.e2e.signature.v1"

SUMMARY = re.compile(r"^gc: removed (\d+) manifests?, (\d+) blobs?, (\d+) bytes freed in \S+$")
DRY_SUMMARY = re.compile(r"^gc \(dry run\): would remove (\d+) manifests?, (\d+) blobs?, (\d+) bytes in \S+$")
BLOB_LINE = re.compile(r"^(removed|would remove) blob (sha256:[0-9a-f]{64}) \((\d+) bytes?\)$")
MANIFEST_LINE = re.compile(r"^(removed|would remove) manifest ([a-z0-9][a-z0-9._/-]*)@(sha256:[0-9a-f]{64})(?:\s.*)?$")
TAG_LINE = re.compile(r"^(removed|would remove) tag ([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})(?:\s.*)?$")


@pytest.fixture(autouse=True)
def _berth_binary():
    ok, why = implementation_available("berth")
    if not ok:
        pytest.skip(why)


# ----------------------------------------------------------------------------- configuration

def merged(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        deep_merge(out, part)
    return out


def gc_settings(delay="0s", untagged=False, retention=None, immutable=None) -> dict:
    maintenance = {"gc": {"enabled": True, "interval": "1h", "delay": delay, "untagged": untagged, "dryrun": False}}
    if retention is not None:
        maintenance["retention"] = retention
    config = {"storage": {"delete": {"enabled": True}, "maintenance": maintenance}}
    if immutable is not None:
        config["immutabletags"] = immutable
    return config


def config_file(workdir: Path, extra: dict) -> Path:
    """A berth config.yml (as RegistryProcess writes it) without starting a server."""
    return RegistryProcess(workdir, "berth", extra_config=extra).write_config()


STARTUP_SWEEP = re.compile(r"\bgc sweep\b")


def wait_for_startup_sweep(reg: RegistryProcess, timeout: float = 5.0) -> bool:
    """Give the server's start-up sweep (logged as "gc sweep") the chance to finish before the test
    writes anything; True when its log line appeared."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = reg.log_since_start()
        if STARTUP_SWEEP.search(text):
            time.sleep(0.2)
            return True
        time.sleep(0.05)
    return False


def start(make_registry, extra: dict) -> RegistryProcess:
    reg = make_registry(extra_config=extra)
    wait_for_startup_sweep(reg)
    return reg


# ----------------------------------------------------------------------------- the CLI

@dataclass
class Sweep:
    proc: subprocess.CompletedProcess
    dry: bool
    counts: tuple            # (manifests, blobs, bytes) from the summary line
    blobs: dict = field(default_factory=dict)       # digest -> bytes, "removed"/"would remove" lines
    manifests: list = field(default_factory=list)   # (verb, repo, digest)
    tags: list = field(default_factory=list)        # (verb, repo, tag)

    def manifest_set(self, verb=None) -> set:
        return {(r, d) for v, r, d in self.manifests if verb is None or v == verb}

    def tag_set(self, verb=None) -> set:
        return {(r, t) for v, r, t in self.tags if verb is None or v == verb}


def wait_out_protection(config: Path, limit: float = 5.0) -> None:
    """With `delay: 0s` berth still protects in whole seconds: a blob for at least one second after
    its upload, two after a HEAD or mount, a manifest during the second it was pushed. Wait until
    every such protection of the root of `config` has run out (and fail if one lasts beyond `limit`),
    so that a sweep's result does not depend on where in a second it starts."""
    settings = yaml.safe_load(Path(config).read_text())
    if str(settings.get("storage", {}).get("maintenance", {}).get("gc", {}).get("delay")) != "0s":
        return
    db = Path(settings["storage"]["filesystem"]["rootdirectory"]) / "berth" / "metadata.sqlite"
    if not db.is_file():
        return
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            latest = max(con.execute("SELECT COALESCE(MAX(MAX(protected_until), MAX(created_at)), 0) FROM blobs").fetchone()[0],
                         con.execute("SELECT COALESCE(MAX(created_at), 0) FROM manifests").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return
    wait = latest + 1 - time.time()
    assert wait <= limit, f"with delay 0s something is protected until {latest}, {wait:.1f}s from now"
    if wait > 0:
        time.sleep(wait + 0.05)


def run_gc(config: Path, *flags, env: dict | None = None, timeout: float = 120,
           settle: bool = True) -> subprocess.CompletedProcess:
    if settle:
        wait_out_protection(config)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_", "BERTH_FAILPOINT"))}
    environment.update(env or {})
    return subprocess.run([str(BERTH_REGISTRY), "garbage-collect", *flags, str(config)], capture_output=True, text=True,
                          timeout=timeout, env=environment, stdin=subprocess.DEVNULL)


def gc(config: Path, *flags, env: dict | None = None) -> Sweep:
    """One successful sweep, its output parsed and checked against its own summary line."""
    res = run_gc(config, *flags, env=env)
    where = f"garbage-collect {' '.join(flags)} exited {res.returncode}\nstdout:\n{res.stdout[-4000:]}\nstderr:\n{res.stderr[-4000:]}"
    assert res.returncode == 0, where
    lines = [line.strip() for line in res.stdout.splitlines() if line.strip()]
    summaries = [(m, line) for line in lines if (m := SUMMARY.match(line) or DRY_SUMMARY.match(line))]
    assert len(summaries) == 1, f"expected one summary line\n{where}"
    match, summary_line = summaries[0]
    assert lines[-1] == summary_line, f"the summary is the last line\n{where}"
    dry = summary_line.startswith("gc (dry run)")
    sweep = Sweep(res, dry, tuple(int(g) for g in match.groups()))
    for line in lines[:-1]:
        if m := BLOB_LINE.match(line):
            assert m[2] not in sweep.blobs, f"blob reported twice: {line}\n{where}"
            sweep.blobs[m[2]] = int(m[3])
            assert (m[1] == "would remove") == dry, f"{line!r} in a {'dry' if dry else 'real'} run\n{where}"
        elif m := MANIFEST_LINE.match(line):
            sweep.manifests.append((m[1], m[2], m[3]))
        elif m := TAG_LINE.match(line):
            sweep.tags.append((m[1], m[2], m[3]))
    assert sweep.counts[1] == len(sweep.blobs), f"summary blob count vs blob lines\n{where}"
    assert sweep.counts[2] == sum(sweep.blobs.values()), f"summary bytes vs the sizes of the blob lines\n{where}"
    verb = "would remove" if dry else "removed"
    assert sweep.counts[0] == len(sweep.manifest_set(verb)), f"summary manifest count vs manifest lines\n{where}"
    return sweep


# ----------------------------------------------------------------------------- storage

def blobs_dir(root: Path) -> Path:
    return Path(root) / "docker" / "registry" / "v2" / "blobs"


def blob_files(root: Path) -> dict:
    """{digest: size} of every blob data file on disk."""
    base = blobs_dir(root) / "sha256"
    return {"sha256:" + p.parent.name: p.stat().st_size for p in base.glob("*/*/data")} if base.is_dir() else {}


def blob_path(root: Path, digest: str) -> Path:
    hex_ = digest.split(":", 1)[1]
    return blobs_dir(root) / "sha256" / hex_[:2] / hex_ / "data"


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())


def tree_listing(path: Path) -> dict:
    """{relative path: size} of every regular file under path."""
    path = Path(path)
    return {str(p.relative_to(path)): p.stat().st_size for p in path.rglob("*") if p.is_file()}


@dataclass
class Metadata:
    blobs: dict          # digest -> size
    repository_blobs: set  # (repo, digest)
    manifests: set       # (repo, digest)
    tags: dict           # (repo, tag) -> digest


def read_metadata(root: Path) -> Metadata:
    db = Path(root) / "berth" / "metadata.sqlite"
    assert db.is_file(), f"no metadata database at {db}"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        blobs = {d: s for d, s in con.execute("SELECT digest, size FROM blobs")}
        links = set(con.execute("SELECT r.name, b.digest FROM repository_blobs b JOIN repositories r ON r.id = b.repository_id"))
        manifests = set(con.execute("SELECT r.name, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id"))
        tags = {(r, n): d for r, n, d in con.execute(
            "SELECT r.name, t.name, t.digest FROM tags t JOIN repositories r ON r.id = t.repository_id")}
    finally:
        con.close()
    return Metadata(blobs, links, manifests, tags)


def assert_disk_and_metadata_agree(root: Path) -> Metadata:
    files = blob_files(root)
    meta = read_metadata(root)
    assert sorted(set(meta.blobs) - set(files)) == [], "blobs rows without a file"
    assert sorted(set(files) - set(meta.blobs)) == [], "blob files without a blobs row"
    wrong = {d: (meta.blobs[d], files[d]) for d in files if meta.blobs[d] != files[d]}
    assert wrong == {}, "blobs.size differs from the file size (row, file)"
    assert sorted(d for _, d in meta.repository_blobs if d not in files) == [], "repository links to missing blobs"
    assert sorted(d for _, d in meta.manifests if d not in files) == [], "manifest rows whose bytes are gone"
    assert sorted(d for d in meta.tags.values() if d not in files) == [], "tags pointing at missing manifests"
    return meta


# ----------------------------------------------------------------------------- images

def make_image(tmp_path: Path, name: str, shared: str | None = None):
    """busybox + (a layer shared by every image with the same `shared`) + a layer unique to `name`."""
    extra = []
    if shared is not None:
        extra.append({"etc/shared": f"shared layer {shared}\n".encode()})
    extra.append({"etc/image": f"image {name}\n".encode() * 64})
    return make_busybox_oci_layout(tmp_path / "images" / name, tag="latest", extra_layers=extra)


def push(reg: RegistryProcess, image, repo: str, tag: str) -> None:
    digestfile = image.layout_dir.parent / f"digest-{uuid.uuid4().hex}"
    skopeo("copy", "--quiet", PLAIN, "--preserve-digests", "--digestfile", digestfile,
               f"oci:{image.layout_dir}:{image.tag}", reg.ref(repo, tag))
    assert digestfile.read_text().strip() == image.manifest_digest


def assert_pulls(reg: RegistryProcess, repo: str, ref: str, image, workdir: Path) -> None:
    """skopeo copy back into a fresh OCI layout: the same blobs, byte for byte."""
    out = Path(workdir) / "pulled" / uuid.uuid4().hex
    out.parent.mkdir(parents=True, exist_ok=True)
    skopeo("copy", "--quiet", PLAIN_SRC, "--preserve-digests", reg.ref(repo, ref), f"oci:{out}:pulled")
    assert_same_blobs(image.blobs, layout_blobs_verified(out), f"{repo}:{ref}")


def delete_manifest(reg: RegistryProcess, repo: str, ref: str) -> None:
    r = raw(reg, "DELETE", f"/v2/{repo}/manifests/{ref}")
    assert r.status == 202, (repo, ref, r)


def manifest_status(reg: RegistryProcess, repo: str, ref: str) -> int:
    return raw(reg, "GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}).status


def tags_of(reg: RegistryProcess, repo: str) -> list:
    r = raw(reg, "GET", f"/v2/{repo}/tags/list")
    if r.status == 404:
        return []
    assert r.status == 200, (repo, r)
    return sorted(json.loads(r.body).get("tags") or [])


def union(*sets) -> set:
    out: set = set()
    for s in sets:
        out |= set(s)
    return out


def put_manifest(reg, repo, ref, body: bytes, media_type=OCI_MANIFEST):
    return raw(reg, "PUT", f"/v2/{repo}/manifests/{ref}", body, {"Content-Type": media_type})


# ============================================================================= 1. the sweep

def test_sweep_removes_exactly_the_unshared_blobs_of_deleted_images(make_registry, tmp_path):
    reg = start(make_registry, gc_settings())
    root = reg.root_dir
    # 12 images: busybox layer shared by all, one layer shared by each pair (2k, 2k+1), one unique layer.
    images = [make_image(tmp_path, f"img{i}", shared=f"pair{i // 2}") for i in range(12)]
    where = {i: (f"gc/r{i % 4}", f"t{i}") for i in range(12)}
    for i, image in enumerate(images):
        push(reg, image, *where[i])
    push(reg, images[0], "gc/mirror", "t0")          # image 0 lives on in another repository
    assert union(*(img.blobs for img in images)) <= set(blob_files(root))
    assert_disk_and_metadata_agree(root)

    # Delete half: by digest, by skopeo delete (tag resolved to digest), by tag then digest, by tag only.
    delete_manifest(reg, where[0][0], images[0].manifest_digest)
    delete_manifest(reg, where[1][0], images[1].manifest_digest)
    skopeo("delete", "--tls-verify=false", reg.ref(*where[2]))
    for i in (3, 4):
        delete_manifest(reg, *where[i])
        delete_manifest(reg, where[i][0], images[i].manifest_digest)
    delete_manifest(reg, *where[9])                   # tag only: manifest 9 stays, untagged
    for i in (0, 1, 2, 3, 4):
        assert manifest_status(reg, where[i][0], images[i].manifest_digest) == 404, i
        assert where[i][1] not in tags_of(reg, where[i][0]), i
    assert manifest_status(reg, *where[9]) == 404
    assert manifest_status(reg, where[9][0], images[9].manifest_digest) == 200

    kept = [5, 6, 7, 8, 10, 11]
    reachable = union(*(images[i].blobs for i in kept), images[0].blobs, images[9].blobs)
    expected = union(*(images[i].blobs for i in (1, 2, 3, 4))) - reachable
    # image 1's pair layer is kept by image 0 (gc/mirror), image 4's by image 5; pair 1 (images 2, 3) goes.
    assert [d for d, _, _ in images[2].layers][1] in expected
    assert [d for d, _, _ in images[1].layers][1] not in expected
    assert [d for d, _, _ in images[4].layers][1] not in expected

    files_before, bytes_before, meta_before = blob_files(root), tree_bytes(blobs_dir(root)), read_metadata(root)
    dry = gc(reg.config_path, "--dry-run")
    assert dry.dry
    assert sorted(dry.blobs) == sorted(expected)
    assert dry.manifest_set() == set() and dry.tags == []
    assert dry.blobs == {d: files_before[d] for d in expected}
    assert blob_files(root) == files_before, "a dry run removed files"
    assert read_metadata(root) == meta_before, "a dry run changed the metadata"

    real = gc(reg.config_path)
    assert not real.dry
    assert sorted(real.blobs) == sorted(expected)
    assert real.counts == dry.counts == (0, len(expected), sum(files_before[d] for d in expected))
    files_after = blob_files(root)
    assert sorted(set(files_before) - set(files_after)) == sorted(expected)
    assert set(files_after) <= set(files_before)
    assert bytes_before - tree_bytes(blobs_dir(root)) == real.counts[2], "blob store shrank by the bytes reported"
    meta = assert_disk_and_metadata_agree(root)
    assert not expected & set(meta.blobs)
    assert not expected & {d for _, d in meta.repository_blobs}
    for i in (1, 2, 3, 4):
        for digest in set(images[i].blobs) & expected:
            if digest != images[i].manifest_digest:
                assert raw(reg, "HEAD", f"/v2/{where[i][0]}/blobs/{digest}").status == 404, (i, digest)
    # The untagged manifest 9 was not removed without --delete-untagged.
    assert manifest_status(reg, where[9][0], images[9].manifest_digest) == 200
    assert set(images[9].blobs) <= set(files_after)

    # --delete-untagged removes manifest 9 and what only it used (its pair layer is image 8's too).
    reachable = union(*(images[i].blobs for i in kept), images[0].blobs)
    expected_untagged = set(images[9].blobs) - reachable
    assert len(expected_untagged) == 3    # manifest, config, unique layer
    files_before, bytes_before = blob_files(root), tree_bytes(blobs_dir(root))
    dry = gc(reg.config_path, "--dry-run", "--delete-untagged")
    assert dry.manifest_set() == {(where[9][0], images[9].manifest_digest)}
    assert sorted(dry.blobs) == sorted(expected_untagged)
    assert blob_files(root) == files_before
    real = gc(reg.config_path, "--delete-untagged")
    assert real.manifest_set("removed") == {(where[9][0], images[9].manifest_digest)}
    assert sorted(real.blobs) == sorted(expected_untagged)
    assert real.counts == dry.counts == (1, 3, sum(files_before[d] for d in expected_untagged))
    assert bytes_before - tree_bytes(blobs_dir(root)) == real.counts[2]
    assert manifest_status(reg, where[9][0], images[9].manifest_digest) == 404
    meta = assert_disk_and_metadata_agree(root)
    assert (where[9][0], images[9].manifest_digest) not in meta.manifests

    # A sweep with nothing left to do removes nothing.
    assert gc(reg.config_path, "--delete-untagged").counts == (0, 0, 0)

    # Everything still referenced pulls byte for byte.
    for i in kept:
        assert_pulls(reg, *where[i], images[i], tmp_path)
    assert_pulls(reg, "gc/mirror", "t0", images[0], tmp_path)
    assert set(blob_files(root)) == reachable


# ============================================================================= 2. index and referrers

def test_index_children_and_referrers_live_and_die_with_the_index_tag(make_registry, tmp_path):
    reg = start(make_registry, gc_settings())
    root, repo = reg.root_dir, "gc/multi"
    children = [make_image(tmp_path, f"child{i}", shared="children") for i in range(2)]
    blobs = {}
    for child in children:
        for digest, gz, _ in child.layers:
            blobs[push_blob(reg, repo, gz)] = gz
        blobs[push_blob(reg, repo, child.config)] = child.config
        r = put_manifest(reg, repo, child.manifest_digest, child.manifest)
        assert r.status == 201, r
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": c.manifest_digest, "size": len(c.manifest),
         "platform": {"architecture": arch, "os": "linux"}} for c, arch in zip(children, ("amd64", "arm64"))]}).encode()
    index_digest = sha256_digest(index)
    r = put_manifest(reg, repo, "multi", index, OCI_INDEX)
    assert r.status == 201 and r.headers["docker-content-digest"] == index_digest, r

    blobs[push_blob(reg, repo, EMPTY)] = EMPTY
    referrers = {}
    for name, subject, subject_type in (("index", index, OCI_INDEX), ("child", children[0].manifest, OCI_MANIFEST)):
        payload = f"signature of the {name}\n".encode()
        blobs[push_blob(reg, repo, payload)] = payload
        body = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": sha256_digest(EMPTY), "size": 2},
            "layers": [{"mediaType": ARTIFACT, "digest": sha256_digest(payload), "size": len(payload)}],
            "subject": {"mediaType": subject_type, "digest": sha256_digest(subject), "size": len(subject)},
        }).encode()
        r = put_manifest(reg, repo, sha256_digest(body), body)
        assert r.status == 201 and r.headers.get("oci-subject") == sha256_digest(subject), r
        referrers[name] = body
    listed = raw(reg, "GET", f"/v2/{repo}/referrers/{index_digest}")
    assert listed.status == 200, listed
    assert [(m["digest"], m.get("artifactType")) for m in json.loads(listed.body)["manifests"]] == \
        [(sha256_digest(referrers["index"]), ARTIFACT)]

    manifests = {index_digest: index, **{c.manifest_digest: c.manifest for c in children},
                 **{sha256_digest(b): b for b in referrers.values()}}
    everything = set(blobs) | set(manifests)
    assert everything <= set(blob_files(root))

    # Tagged: the untagged children and referrers are reachable through the index and its subject links.
    for flags in ((), ("--delete-untagged",)):
        sweep = gc(reg.config_path, *flags)
        assert sweep.counts == (0, 0, 0) and sweep.manifest_set() == set(), flags
    for digest in manifests:
        assert manifest_status(reg, repo, digest) == 200, digest
    assert everything <= set(blob_files(root))
    assert_disk_and_metadata_agree(root)

    # Untagged: kept by a plain sweep; all of it goes with --delete-untagged, or with gc.untagged: true.
    delete_manifest(reg, repo, "multi")
    assert gc(reg.config_path).counts == (0, 0, 0)
    assert manifest_status(reg, repo, index_digest) == 200
    files_before = blob_files(root)
    dry = gc(reg.config_path, "--dry-run", "--delete-untagged")
    gc_config = reg.config["storage"]["maintenance"]["gc"]
    gc_config.update(untagged=True, dryrun=True)            # the config's dryrun: as --dry-run
    reg.write_config()
    config_dry = gc(reg.config_path)
    assert config_dry.dry
    assert blob_files(root) == files_before
    gc_config["dryrun"] = False
    reg.write_config()
    swept = gc(reg.config_path)                              # untagged: true, no flag
    assert not swept.dry
    for sweep in (dry, config_dry, swept):
        assert sweep.manifest_set() == {(repo, d) for d in manifests}
        assert sorted(sweep.blobs) == sorted(everything)
        assert sweep.counts == (len(manifests), len(everything), sum(files_before[d] for d in everything))
    for digest in manifests:
        assert manifest_status(reg, repo, digest) == 404, digest
    for digest in blobs:
        assert raw(reg, "HEAD", f"/v2/{repo}/blobs/{digest}").status == 404, digest
    assert not everything & set(blob_files(root))
    meta = assert_disk_and_metadata_agree(root)
    assert not {d for r, d in meta.manifests if r == repo}
    listed = raw(reg, "GET", f"/v2/{repo}/referrers/{index_digest}")
    if listed.status == 200:
        assert json.loads(listed.body)["manifests"] == []


# ============================================================================= 3. grace period

def small_image(label: str):
    """(config bytes, layer bytes, manifest bytes) of a tiny image unique to label."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []},
                         "comment": label}).encode()
    layer = f"layer bytes of {label}\n".encode() * 100
    manifest = image_manifest(sha256_digest(config), len(config), [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha256_digest(layer), "size": len(layer)}])
    return config, layer, manifest


def test_grace_period_protects_uploaded_blobs_until_their_manifest_arrives(make_registry, tmp_path):
    repo = "gc/grace"
    # delay 30s: a sweep between the blob upload and the manifest PUT keeps the blobs.
    slow = start(make_registry, gc_settings(delay="30s"))
    config, layer, manifest = small_image("slow")
    digests = {push_blob(slow, repo, config), push_blob(slow, repo, layer)}
    sweep = gc(slow.config_path, "--delete-untagged")
    assert not digests & set(sweep.blobs), sweep.proc.stdout
    assert digests <= set(blob_files(slow.root_dir))
    r = put_manifest(slow, repo, "v1", manifest)
    assert r.status == 201, r
    assert manifest_status(slow, repo, "v1") == 200
    # ... and an untagged manifest younger than the delay survives --delete-untagged.
    config2, layer2, manifest2 = small_image("slow-untagged")
    push_blob(slow, repo, config2)
    push_blob(slow, repo, layer2)
    assert put_manifest(slow, repo, sha256_digest(manifest2), manifest2).status == 201
    sweep = gc(slow.config_path, "--delete-untagged")
    assert sweep.counts == (0, 0, 0), sweep.proc.stdout
    assert manifest_status(slow, repo, sha256_digest(manifest2)) == 200
    assert_disk_and_metadata_agree(slow.root_dir)

    # delay 0s: the same sweep removes the blobs, and the manifest PUT then refers to unknown blobs.
    fast = start(make_registry, gc_settings(delay="0s"))
    config, layer, manifest = small_image("fast")
    digests = {push_blob(fast, repo, config), push_blob(fast, repo, layer)}
    sweep = gc(fast.config_path)
    assert set(sweep.blobs) == digests
    assert sweep.blobs == {sha256_digest(config): len(config), sha256_digest(layer): len(layer)}
    assert not digests & set(blob_files(fast.root_dir))
    for digest in digests:
        assert raw(fast, "HEAD", f"/v2/{repo}/blobs/{digest}").status == 404
    assert_error(put_manifest(fast, repo, "v1", manifest), 400, "MANIFEST_BLOB_UNKNOWN")
    assert manifest_status(fast, repo, "v1") == 404
    # berth stores a manifest's bytes before the transaction that refuses it: garbage for the next sweep.
    refused_leftover = {sha256_digest(manifest)} & set(blob_files(fast.root_dir))
    # ... and an untagged manifest goes at once with --delete-untagged.
    push_blob(fast, repo, config2)
    push_blob(fast, repo, layer2)
    assert put_manifest(fast, repo, sha256_digest(manifest2), manifest2).status == 201
    sweep = gc(fast.config_path, "--delete-untagged")
    assert sweep.manifest_set() == {(repo, sha256_digest(manifest2))}
    assert set(sweep.blobs) == {sha256_digest(config2), sha256_digest(layer2), sha256_digest(manifest2)} | refused_leftover
    assert not set(blob_files(fast.root_dir))
    assert manifest_status(fast, repo, sha256_digest(manifest2)) == 404
    assert_disk_and_metadata_agree(fast.root_dir)


def test_head_and_mount_renew_the_grace_period_of_an_old_blob(make_registry, tmp_path):
    """A client that is told a blob exists (HEAD, or a mount) skips its upload: the blob must then
    survive sweeps for the grace period although it is older than the delay."""
    repo = "gc/head"
    reg = start(make_registry, gc_settings(delay="2s"))
    config, layer, manifest = small_image("head")
    untouched = b"nobody asks for this blob\n"
    for data in (config, layer, untouched):
        push_blob(reg, repo, data)
    time.sleep(3.2)                                       # all three are now older than the delay
    assert raw(reg, "HEAD", f"/v2/{repo}/blobs/{sha256_digest(config)}").status == 200
    mounted = raw(reg, "POST", f"/v2/gc/other/blobs/uploads/?mount={sha256_digest(layer)}&from={repo}", b"")
    assert mounted.status == 201, mounted
    sweep = gc(reg.config_path)
    assert sweep.blobs == {sha256_digest(untouched): len(untouched)}, sweep.proc.stdout
    # The client goes on as if it had uploaded them.
    assert put_manifest(reg, repo, "v1", manifest).status == 201
    assert gc(reg.config_path).blobs == {}
    assert raw(reg, "GET", f"/v2/{repo}/blobs/{sha256_digest(layer)}").body == layer
    assert_disk_and_metadata_agree(reg.root_dir)


# ============================================================================= 4. SIGKILL mid-sweep

def test_sweep_killed_mid_way_leaves_consistent_metadata_and_the_next_sweep_finishes(make_registry, tmp_path):
    reg = start(make_registry, gc_settings())
    root, repo = reg.root_dir, "gc/crash"
    keep = [make_image(tmp_path, f"keep{i}", shared="keep") for i in range(2)]
    drop = [make_image(tmp_path, f"drop{i}", shared="drop") for i in range(3)]
    for i, image in enumerate(keep):
        push(reg, image, repo, f"keep{i}")
    for i, image in enumerate(drop):
        push(reg, image, repo, f"drop{i}")
        delete_manifest(reg, repo, image.manifest_digest)
    unreachable = union(*(d.blobs for d in drop)) - union(*(k.blobs for k in keep))
    assert len(unreachable) == 10    # 3 manifests, 3 configs, 3 unique layers, the shared "drop" layer

    before = blob_files(root)
    res = run_gc(reg.config_path, env={FAILPOINT: "2"})
    assert res.returncode == -signal.SIGKILL, (res.returncode, res.stdout, res.stderr)
    after = blob_files(root)
    gone = set(before) - set(after)
    assert len(gone) == 2 and gone <= unreachable, sorted(gone)
    assert set(after) <= set(before)
    meta = read_metadata(root)
    assert sorted(set(meta.blobs) - set(after)) == [], "a blobs row points at a file the killed sweep deleted"
    for digest in gone:
        if any(digest != d.manifest_digest and digest in d.blobs for d in drop):
            assert raw(reg, "HEAD", f"/v2/{repo}/blobs/{digest}").status == 404, digest
    for image in keep:
        assert manifest_status(reg, repo, image.manifest_digest) == 200

    again = gc(reg.config_path)
    # The removals the killed sweep had started are finished (and may be reported, with 0 bytes freed).
    assert {d: size for d, size in again.blobs.items() if d not in gone} == {d: before[d] for d in unreachable - gone}
    assert {d: size for d, size in again.blobs.items() if d in gone} in ({}, {d: 0 for d in gone}), again.proc.stdout
    assert again.counts[2] == sum(before[d] for d in unreachable - gone)
    assert set(blob_files(root)) == set(before) - unreachable
    assert_disk_and_metadata_agree(root)
    assert gc(reg.config_path).counts == (0, 0, 0)
    for i, image in enumerate(keep):
        assert_pulls(reg, repo, f"keep{i}", image, tmp_path)


# ============================================================================= 5. Distribution roots

def test_unimported_distribution_root_is_never_swept(make_registry, tmp_path):
    dist = make_registry(impl="distribution")
    keep = make_image(tmp_path, "dist-keep", shared="dist")
    drop = make_image(tmp_path, "dist-drop", shared="dist")
    push(dist, keep, "old/app", "v1")
    push(dist, drop, "old/app", "v2")
    delete_manifest(dist, "old/app", drop.manifest_digest)   # leaves garbage in Distribution's tree
    dist.stop()
    root = dist.root_dir
    assert (root / "docker" / "registry" / "v2" / "repositories" / "old" / "app").is_dir()
    listing = tree_listing(root / "docker")
    assert set(keep.blobs) | set(drop.blobs) <= set(blob_files(root))

    berth = RegistryProcess(tmp_path / "berth-on-dist", "berth",
                            extra_config=merged(gc_settings(), {"storage": {"filesystem": {"rootdirectory": str(root)}}}))
    config = berth.write_config()
    try:
        for flags in ((), ("--delete-untagged",), ("--dry-run",)):
            res = run_gc(config, *flags)
            assert res.returncode > 0, (flags, res.returncode, res.stdout, res.stderr)
            assert "berth-registry import" in res.stderr, (flags, res.stderr)
            assert tree_listing(root / "docker") == listing, f"garbage-collect {flags} touched Distribution's files"

        # Served without import: the start-up sweep runs and must not delete anything of Distribution's.
        berth.start()
        assert wait_for_startup_sweep(berth, timeout=10), f"no start-up sweep logged\n{berth.log_tail()}"
        time.sleep(1.0)
        assert tree_listing(root / "docker") == listing, "the server's sweep touched Distribution's files"
        berth.stop()

        imported = subprocess.run([str(BERTH_REGISTRY), "import", str(root)], capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported
        swept = gc(config)
        expected = set(drop.blobs) - set(keep.blobs)   # Distribution deleted that manifest: its own blobs are garbage
        assert sorted(swept.blobs) == sorted(expected)
        remaining = tree_listing(root / "docker")
        removed = set(listing) - set(remaining)
        data_files = {str(blob_path(root, d).relative_to(root / "docker")) for d in expected}
        assert data_files <= removed
        # Besides the data files, at most Distribution's layer links to those very blobs may go.
        hexes = {d.split(":", 1)[1] for d in expected}
        others = {p for p in removed - data_files
                  if not (p.endswith("/link") and "/_layers/sha256/" in p and Path(p).parent.name in hexes)}
        assert others == set(), sorted(others)
        assert {k: listing[k] for k in remaining} == remaining
        assert_disk_and_metadata_agree(root)

        berth.restart()
        assert_pulls(berth, "old/app", "v1", keep, tmp_path)
        assert manifest_status(berth, "old/app", drop.manifest_digest) == 404
    finally:
        berth.close()


# ============================================================================= 6. unwritable roots

@pytest.mark.parametrize("kind", ["under-proc", "parent-is-a-file"])
def test_gc_on_a_root_it_cannot_write_fails_with_a_reason(tmp_path, kind):
    if kind == "under-proc":
        root = Path(f"/proc/berth-gc-e2e-{os.getpid()}/root")
    else:
        (tmp_path / "a-file").write_text("not a directory\n")
        root = tmp_path / "a-file" / "root"
    config = config_file(tmp_path / "cfg", merged(gc_settings(), {"storage": {"filesystem": {"rootdirectory": str(root)}}}))
    res = run_gc(config)
    assert res.returncode > 0, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.strip(), "no reason on stderr"
    assert str(root.parent) in res.stderr, res.stderr
    assert not SUMMARY.search(res.stdout) and "gc: removed" not in res.stdout, res.stdout
    if kind == "parent-is-a-file":
        assert (tmp_path / "a-file").read_text() == "not a directory\n"


def test_gc_on_a_read_only_mount_fails_and_changes_nothing(make_registry, tmp_path):
    reg = start(make_registry, gc_settings())
    keep, drop = make_image(tmp_path, "ro-keep"), make_image(tmp_path, "ro-drop")
    push(reg, keep, "gc/ro", "keep")
    push(reg, drop, "gc/ro", "drop")
    delete_manifest(reg, "gc/ro", drop.manifest_digest)
    reg.stop()
    ro = tmp_path / "ro-root"
    ro.mkdir()
    bind = subprocess.run(["mount", "--bind", str(reg.root_dir), str(ro)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {remount.stderr.strip()}")
        config = config_file(tmp_path / "cfg", merged(gc_settings(), {"storage": {"filesystem": {"rootdirectory": str(ro)}}}))
        before = tree_listing(reg.root_dir)
        for flags in ((), ("--delete-untagged",)):
            res = run_gc(config, *flags)
            assert res.returncode > 0, (flags, res.returncode, res.stdout, res.stderr)
            assert res.stderr.strip(), "no reason on stderr"
            assert "gc: removed" not in res.stdout, res.stdout
            assert tree_listing(reg.root_dir) == before
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
    # The same root, writable: the garbage is there to be collected.
    swept = gc(reg.config_path)
    assert sorted(swept.blobs) == sorted(set(drop.blobs) - set(keep.blobs))


# ============================================================================= 7. retention

RETENTION_POLICIES = [
    {"repositories": ["team/keep/**"], "keeptags": [{"patterns": ["^t1$"]}], "deleteuntagged": True},
    {"repositories": ["ci/*"], "keeptags": [{"patterns": ["^v[0-9]+\\.", "^latest$"]}], "deleteuntagged": True},
    {"repositories": ["team/**"], "keeptags": [{"mostrecentlypushedcount": 2}], "deleteuntagged": True},
]


def test_retention_dry_run_then_real_run(make_registry, tmp_path):
    reg = start(make_registry, gc_settings(retention={"dryrun": True, "policies": RETENTION_POLICIES}))
    root = reg.root_dir
    ci_tags = ["v1.0", "v2.0", "latest", "old1", "old2", "old3"]
    ci = {t: make_image(tmp_path, f"ci-{t}", shared="ci") for t in ci_tags}
    for tag, image in ci.items():
        push(reg, image, "ci/app", tag)
    other = {t: make_image(tmp_path, f"other-{t}") for t in ("old1", "old2", "tmp")}
    for tag, image in other.items():
        push(reg, image, "other/app", tag)
    delete_manifest(reg, "other/app", "tmp")                 # an untagged manifest outside every policy
    nested = make_image(tmp_path, "nested-old1")
    push(reg, nested, "ci/nested/app", "old1")               # ci/* stops at "/": no policy
    team = {t: make_image(tmp_path, f"team-{t}") for t in ("t1", "t2", "t3", "t4")}
    for n, (tag, image) in enumerate(team.items()):
        if n:
            time.sleep(1.1)                                  # distinct push times
        push(reg, image, "team/app", tag)
        push(reg, image, "team/keep/app", tag)

    repos = ["ci/app", "other/app", "ci/nested/app", "team/app", "team/keep/app"]
    tags_before = {r: tags_of(reg, r) for r in repos}
    assert tags_before["ci/app"] == sorted(ci_tags)
    files_before, meta_before = blob_files(root), read_metadata(root)
    to_remove = {("ci/app", "old1"), ("ci/app", "old2"), ("ci/app", "old3"),
                 ("team/app", "t1"), ("team/app", "t2"),                          # mostrecentlypushedcount 2
                 ("team/keep/app", "t2"), ("team/keep/app", "t3"), ("team/keep/app", "t4")}  # first policy only

    dry = gc(reg.config_path)    # retention dryrun: true
    assert dry.tag_set("would remove") == to_remove, dry.proc.stdout
    assert dry.tag_set("removed") == set() and dry.manifest_set("removed") == set() and dry.blobs == {}
    assert {r: tags_of(reg, r) for r in repos} == tags_before
    assert blob_files(root) == files_before
    assert read_metadata(root) == meta_before

    reg.config["storage"]["maintenance"]["retention"]["dryrun"] = False
    reg.write_config()
    real = gc(reg.config_path)
    assert real.tag_set("removed") == to_remove, real.proc.stdout
    assert real.tag_set("would remove") == set()
    assert real.manifest_set("removed") == {
        ("ci/app", ci["old1"].manifest_digest), ("ci/app", ci["old2"].manifest_digest), ("ci/app", ci["old3"].manifest_digest),
        ("team/app", team["t1"].manifest_digest), ("team/app", team["t2"].manifest_digest),
        ("team/keep/app", team["t2"].manifest_digest), ("team/keep/app", team["t3"].manifest_digest),
        ("team/keep/app", team["t4"].manifest_digest)}
    live = [ci["v1.0"], ci["v2.0"], ci["latest"], *other.values(), nested, *team.values()]
    live.remove(team["t2"])
    expected = union(ci["old1"].blobs, ci["old2"].blobs, ci["old3"].blobs, team["t2"].blobs) - union(*(i.blobs for i in live))
    assert len(expected) == 9 + 3        # 3 x (manifest, config, unique layer) of ci, the same for team t2
    assert sorted(real.blobs) == sorted(expected)
    assert real.counts[2] == sum(files_before[d] for d in expected)
    assert set(files_before) - set(blob_files(root)) == expected

    assert tags_of(reg, "ci/app") == ["latest", "v1.0", "v2.0"]
    assert tags_of(reg, "team/app") == ["t3", "t4"]
    assert tags_of(reg, "team/keep/app") == ["t1"]
    assert tags_of(reg, "other/app") == tags_before["other/app"] == ["old1", "old2"]
    assert tags_of(reg, "ci/nested/app") == ["old1"]
    assert manifest_status(reg, "other/app", other["tmp"].manifest_digest) == 200
    for tag in ("old1", "old2", "old3"):
        assert manifest_status(reg, "ci/app", tag) == 404
        assert manifest_status(reg, "ci/app", ci[tag].manifest_digest) == 404
    assert_disk_and_metadata_agree(root)
    for tag in ("v1.0", "v2.0", "latest"):
        assert_pulls(reg, "ci/app", tag, ci[tag], tmp_path)
    assert_pulls(reg, "team/keep/app", "t1", team["t1"], tmp_path)
    assert_pulls(reg, "ci/nested/app", "old1", nested, tmp_path)

    # Nothing left for the rules: the next sweep removes nothing.
    again = gc(reg.config_path)
    assert again.tags == [] and again.counts == (0, 0, 0)


# ============================================================================= 8. immutable tags

def assert_denied(reply):
    assert_error(reply, 403, "DENIED")
    message = json.loads(reply.body)["errors"][0]["message"]
    assert "immutable" in message.lower(), message


def test_immutable_tags_refuse_overwrite_and_delete_and_survive_retention(make_registry, tmp_path):
    retention = {"dryrun": False, "policies": [
        {"repositories": ["prod/**"], "keeptags": [{"patterns": ["^never$"]}], "deleteuntagged": True}]}
    reg = start(make_registry, gc_settings(retention=retention,
                                           immutable=[{"repositories": ["prod/**"], "tags": ["v*"]}]))
    a, b = make_image(tmp_path, "prod-a"), make_image(tmp_path, "prod-b")

    push(reg, a, "prod/app", "v1")                     # the first push of an immutable tag is allowed
    err = skopeo_fails("copy", "--quiet", PLAIN, "--preserve-digests", f"oci:{b.layout_dir}:{b.tag}",
                       reg.ref("prod/app", "v1"))
    assert "denied" in err or "403" in err, err
    assert raw(reg, "GET", "/v2/prod/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).body == a.manifest
    push(reg, a, "prod/app", "v1")                     # the same manifest again is allowed

    # b's blobs are in prod/app (skopeo uploaded them before the refused PUT): the refusal is the rule's.
    assert_denied(put_manifest(reg, "prod/app", "v1", b.manifest))
    assert_denied(raw(reg, "DELETE", "/v2/prod/app/manifests/v1"))
    assert_denied(raw(reg, "DELETE", f"/v2/prod/app/manifests/{a.manifest_digest}"))
    err = skopeo_fails("delete", "--tls-verify=false", reg.ref("prod/app", "v1"))
    assert "denied" in err or "403" in err, err
    assert raw(reg, "GET", "/v2/prod/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).body == a.manifest
    assert manifest_status(reg, "prod/app", a.manifest_digest) == 200

    # ** crosses "/"; other tags and other repositories are mutable.
    push(reg, a, "prod/team/app", "v2")
    err = skopeo_fails("copy", "--quiet", PLAIN, f"oci:{b.layout_dir}:{b.tag}", reg.ref("prod/team/app", "v2"))
    assert "denied" in err or "403" in err, err
    push(reg, a, "prod/app", "latest")
    push(reg, b, "prod/app", "latest")
    assert raw(reg, "GET", "/v2/prod/app/manifests/latest", headers={"Accept": OCI_MANIFEST}).body == b.manifest
    push(reg, a, "staging/app", "v1")
    push(reg, b, "staging/app", "v1")
    assert raw(reg, "GET", "/v2/staging/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).body == b.manifest
    delete_manifest(reg, "staging/app", "v1")
    push(reg, b, "staging/app", "v1")

    # Retention keeps only "never" in prod/**: latest goes, the immutable v tags stay.
    sweep = gc(reg.config_path)
    assert sweep.tag_set("removed") == {("prod/app", "latest")}, sweep.proc.stdout
    assert sweep.manifest_set("removed") == {("prod/app", b.manifest_digest)}
    assert sweep.blobs == {}                           # b lives on in staging/app, a in prod
    assert tags_of(reg, "prod/app") == ["v1"]
    assert tags_of(reg, "prod/team/app") == ["v2"]
    assert_pulls(reg, "prod/app", "v1", a, tmp_path)
    assert_pulls(reg, "staging/app", "v1", b, tmp_path)
    assert_disk_and_metadata_agree(reg.root_dir)


# ============================================================================= 9. bad config

def test_bad_gc_retention_or_immutable_config_names_the_key(tmp_path):
    extra = gc_settings(retention={"dryrun": False, "policies": copy.deepcopy(RETENTION_POLICIES)},
                        immutable=[{"repositories": ["prod/**"], "tags": ["v*"]}])
    base = RegistryProcess(tmp_path / "base", "berth", extra_config=extra).config
    good = tmp_path / "good.yml"
    good.write_text(yaml.safe_dump(base, sort_keys=False))
    ok = subprocess.run([str(BERTH_REGISTRY), "verify-config", str(good)], capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0, (ok.stdout, ok.stderr)

    def bad_regex(c):
        c["storage"]["maintenance"]["retention"]["policies"][0]["keeptags"][0]["patterns"][0] = "^v[0-9"

    def bad_duration(c):
        c["storage"]["maintenance"]["gc"]["delay"] = "5 parsecs"

    def bad_glob(c):
        c["immutabletags"][0]["repositories"][0] = "a/***"

    cases = [(bad_regex, "storage.maintenance.retention.policies[0].keeptags[0].patterns[0]: invalid regular expression"),
             (bad_duration, "storage.maintenance.gc.delay"),
             (bad_glob, "immutabletags[0].repositories[0]")]
    for mutate, expected in cases:
        config = copy.deepcopy(base)
        mutate(config)
        path = tmp_path / f"{mutate.__name__}.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        checked = subprocess.run([str(BERTH_REGISTRY), "verify-config", str(path)], capture_output=True, text=True, timeout=30)
        assert checked.returncode != 0, (mutate.__name__, checked.stdout, checked.stderr)
        assert expected in checked.stderr + checked.stdout, (mutate.__name__, checked.stdout, checked.stderr)
        # serve stops at start-up with the same message, and does not sweep or listen.
        try:
            served = subprocess.run([str(BERTH_REGISTRY), "serve", str(path)], capture_output=True, text=True, timeout=20,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{mutate.__name__}: serve started with a bad config")
        assert served.returncode != 0, (mutate.__name__, served.stdout, served.stderr)
        assert expected in served.stderr + served.stdout, (mutate.__name__, served.stdout, served.stderr)
        # gc refuses it too
        swept = run_gc(path)
        assert swept.returncode > 0 and expected in swept.stderr + swept.stdout, (mutate.__name__, swept.stdout, swept.stderr)

"""OCI images for the end-to-end tests, built in Python from local files (there is no internet):
busybox-static layouts, multi-platform indexes, layers of random bytes, and ways to read back
what a layout or a skopeo `dir:` copy holds.
"""
from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

BUSYBOX = Path(shutil.which("busybox") or "/bin/busybox")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_V2S2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()



# ----- deterministic busybox layouts (ImageInfo)

@dataclass
class ImageInfo:
    """What make_busybox_oci_layout wrote."""
    layout_dir: Path
    tag: str
    manifest_digest: str
    manifest: bytes
    config_digest: str
    config: bytes
    layers: list = field(default_factory=list)     # [(digest, compressed bytes, diff_id)]
    blobs: dict = field(default_factory=dict)      # digest -> bytes (config, layers, manifest)


def _tar_layer(entries: Iterable[tuple]) -> bytes:
    """Deterministic tar from (name, kind, payload) with kind in file|dir|symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "root", "root"
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, payload
                tar.addfile(info)
            else:
                data, mode = payload if isinstance(payload, tuple) else (payload, 0o644)
                info.size, info.mode = len(data), mode
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _goarch() -> str:
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def make_busybox_oci_layout(dest_dir, tag: str = "latest",
                            extra_layers: Iterable[Mapping[str, bytes]] = ()) -> ImageInfo:
    """Write an OCI image layout (oci-layout, index.json, blobs/sha256/*) at dest_dir.

    Layer 1: bin/busybox (from the busybox-static package) plus symlinks bin/sh, ls, cat, echo,
    true, env. Each item of extra_layers is {path_in_layer: file bytes} and becomes one more gzip
    layer. The config has the right diff_ids and rootfs; Cmd is ["/bin/sh"]. Everything is
    deterministic (mtime 0, root owner), so the same inputs give the same digests.
    Use it with skopeo as f"oci:{dest_dir}:{tag}".
    """
    dest = Path(dest_dir)
    blobs_dir = dest / "blobs" / "sha256"
    blobs_dir.mkdir(parents=True, exist_ok=True)
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        d = sha256_digest(data)
        (blobs_dir / d.split(":", 1)[1]).write_bytes(data)
        blobs[d] = data
        return d

    entries = [("bin", "dir", None), ("bin/busybox", "file", (BUSYBOX.read_bytes(), 0o755))]
    entries += [(f"bin/{n}", "symlink", "busybox") for n in ("sh", "ls", "cat", "echo", "true", "env")]
    layer_specs = [entries]
    for extra in extra_layers:
        items, dirs = [], set()
        for path, data in extra.items():
            path = path.lstrip("/")
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i])
                if d not in dirs:
                    dirs.add(d)
                    items.append((d, "dir", None))
            items.append((path, "file", data))
        layer_specs.append(items)

    layers = []
    for spec in layer_specs:
        raw = _tar_layer(spec)
        gz = gzip.compress(raw, compresslevel=6, mtime=0)
        layers.append((put(gz), gz, sha256_digest(raw)))

    config = json.dumps({
        "created": "1970-01-01T00:00:00Z",
        "architecture": _goarch(), "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [diff for _, _, diff in layers]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "berth e2e harness"} for _ in layers],
    }, separators=(",", ":")).encode()
    config_digest = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": len(gz)} for d, gz, _ in layers],
    }, separators=(",", ":")).encode()
    manifest_digest = put(manifest)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
        "platform": {"architecture": _goarch(), "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    (dest / "index.json").write_text(json.dumps(index))
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return ImageInfo(dest, tag, manifest_digest, manifest, config_digest, config, layers, blobs)


def oci_layout_blobs(layout_dir) -> dict:
    """{digest: bytes} of every blob in an OCI layout directory (verifies nothing)."""
    d = Path(layout_dir) / "blobs" / "sha256"
    return {"sha256:" + p.name: p.read_bytes() for p in sorted(d.iterdir())} if d.is_dir() else {}



# ----- layouts written piece by piece (LayoutWriter)

class LayoutWriter:
    """Writes an OCI image layout directory from in-memory or on-disk layer files."""

    def __init__(self, path: Path):
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        self.entries = []

    def add_bytes(self, data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.path / "blobs" / "sha256" / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def add_file(self, src: Path, media_type: str) -> dict:
        digest = sha256_file(src)
        dest = self.path / "blobs" / "sha256" / digest
        shutil.move(str(src), dest)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": dest.stat().st_size}

    def add_image(self, layers: list, arch: str = "amd64", diff_ids: list | None = None) -> dict:
        """layers: descriptors already added; returns the manifest descriptor."""
        config = {
            "architecture": arch, "os": "linux",
            "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids or [l["digest"] for l in layers]},
        }
        cfg = self.add_bytes(json.dumps(config).encode(), "application/vnd.oci.image.config.v1+json")
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": layers}
        desc = self.add_bytes(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
        desc["platform"] = {"architecture": arch, "os": "linux"}
        return desc

    def add_index(self, manifests: list) -> dict:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}
        return self.add_bytes(json.dumps(index).encode(), "application/vnd.oci.image.index.v1+json")

    def tag(self, desc: dict, tag: str) -> None:
        entry = {k: v for k, v in desc.items() if k != "platform"}
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
        self.entries.append(entry)
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": self.entries}))


def busybox_layer(extra: bytes = b"") -> tuple:
    """A gzip tar holding bin/busybox (and an extra file); returns (gz bytes, diff id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        if extra:
            info = tarfile.TarInfo("etc/extra")
            info.size = len(extra)
            tar.addfile(info, io.BytesIO(extra))
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_layout(path: Path, tag: str = "latest", arch: str = "amd64") -> dict:
    layout = LayoutWriter(path)
    gz, diff = busybox_layer(arch.encode())
    layer = layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
    desc = layout.add_image([layer], arch=arch, diff_ids=[diff])
    layout.tag(desc, tag)
    return desc


def multiarch_layout(path: Path, tag: str = "multi") -> tuple:
    layout = LayoutWriter(path)
    manifests = []
    for arch in ("amd64", "arm64"):
        gz, diff = busybox_layer(arch.encode())
        layer = layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip")
        manifests.append(layout.add_image([layer], arch=arch, diff_ids=[diff]))
    index = layout.add_index(manifests)
    layout.tag(index, tag)
    return index, manifests


def random_layers_layout(path: Path, sizes: list, tag: str = "big") -> dict:
    """Layers of random bytes (as uncompressed-tar media type; content is opaque to registries)."""
    layout = LayoutWriter(path)
    tmp = path / "tmp-layer"
    layers = []
    for size in sizes:
        with open(tmp, "wb") as f:
            left = size
            while left > 0:
                n = min(left, 8 << 20)
                f.write(os.urandom(n))
                left -= n
        layers.append(layout.add_file(tmp, "application/vnd.oci.image.layer.v1.tar"))
    desc = layout.add_image(layers)
    layout.tag(desc, tag)
    return desc


# ----- a multi-platform index from two busybox images

@dataclass
class MultiArchInfo:
    layout_dir: Path
    tag: str
    index_digest: str
    index: bytes
    platforms: dict      # "linux/amd64" -> (manifest digest, manifest bytes)
    blobs: dict          # every blob of the layout



def make_multiarch_oci_layout(dest_dir, tag: str = "multi") -> MultiArchInfo:
    """An OCI layout whose `tag` names an image index of linux/amd64 and linux/arm64 (v8) images.

    The first image is make_busybox_oci_layout's (native busybox); the second shares its
    busybox layer, adds a layer holding /etc/platform and declares arm64 in its config (the bytes
    are only ever copied, never run).
    """
    dest = Path(dest_dir)
    native = make_busybox_oci_layout(dest, tag="native")
    other_src = make_busybox_oci_layout(dest.parent / (dest.name + "-second"),
                                        extra_layers=[{"etc/platform": b"linux/arm64/v8\n"}])
    blobs_dir = dest / "blobs" / "sha256"
    blobs = dict(native.blobs)

    def put(data: bytes) -> str:
        d = sha256_digest(data)
        (blobs_dir / d.split(":", 1)[1]).write_bytes(data)
        blobs[d] = data
        return d

    native_cfg = json.loads(native.config)
    second_arch = "arm64" if native_cfg["architecture"] != "arm64" else "amd64"
    for digest, gz, _ in other_src.layers:
        put(gz)
    cfg = json.loads(other_src.config)
    cfg["architecture"] = second_arch
    if second_arch == "arm64":
        cfg["variant"] = "v8"
    config = json.dumps(cfg, separators=(",", ":")).encode()
    config_digest = put(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": d, "size": len(gz)} for d, gz, _ in other_src.layers],
    }, separators=(",", ":")).encode()
    manifest_digest = put(manifest)

    second_platform = {"architecture": second_arch, "os": "linux"}
    if second_arch == "arm64":
        second_platform["variant"] = "v8"
    index = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": native.manifest_digest, "size": len(native.manifest),
             "platform": {"architecture": native_cfg["architecture"], "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": manifest_digest, "size": len(manifest),
             "platform": second_platform},
        ],
        "annotations": {"org.opencontainers.image.description": "berth e2e multi-platform index"},
    }, separators=(",", ":")).encode()
    index_digest = put(index)
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_INDEX, "digest": index_digest, "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    shutil.rmtree(other_src.layout_dir)
    platforms = {f"linux/{native_cfg['architecture']}": (native.manifest_digest, native.manifest),
                 f"linux/{second_arch}": (manifest_digest, manifest)}
    return MultiArchInfo(dest, tag, index_digest, index, platforms, blobs)


# ----- reading back

def layout_blobs_verified(layout_dir) -> dict:
    """{digest: bytes} of an OCI layout; asserts every file's content hashes to its name."""
    out = {}
    d = Path(layout_dir) / "blobs" / "sha256"
    for p in sorted(d.iterdir()):
        data = p.read_bytes()
        assert hashlib.sha256(data).hexdigest() == p.name, f"{p} does not hash to its name"
        out["sha256:" + p.name] = data
    return out


def layout_index(layout_dir) -> dict:
    return json.loads((Path(layout_dir) / "index.json").read_text())


def dir_copy(dir_path) -> tuple[bytes, dict]:
    """(manifest.json bytes, {digest: bytes}) of a skopeo `dir:` copy (blobs named by hex digest)."""
    dir_path = Path(dir_path)
    blobs = {}
    for p in dir_path.iterdir():
        if len(p.name) == 64 and all(c in "0123456789abcdef" for c in p.name):
            data = p.read_bytes()
            assert hashlib.sha256(data).hexdigest() == p.name, f"{p} does not hash to its name"
            blobs["sha256:" + p.name] = data
    return (dir_path / "manifest.json").read_bytes(), blobs


def assert_same_blobs(source: dict, copied: dict, what: str = ""):
    """Both {digest: bytes}: same digests, every blob equal byte for byte and hashing to its digest."""
    assert sorted(copied) == sorted(source), what
    for digest, data in source.items():
        assert copied[digest] == data, f"{what}: blob {digest} differs after the round trip"
        assert sha256_digest(data) == digest, what

"""Helpers for the container engine end-to-end tests: busybox root filesystems and layers
built from local files (there is no internet), and host-state snapshots to prove that
`berth rm` leaves nothing behind."""

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

from images import BUSYBOX

APPLETS = ["sh", "echo", "cat", "ls", "hostname", "ps", "sleep", "id", "true", "false", "touch", "head", "tr",
           "wc", "httpd", "wget", "ip", "mkdir", "seq", "test", "kill", "grep", "stat", "cut", "nc"]


def busybox_rootfs(path: Path) -> Path:
    """A minimal root: busybox with applet links, passwd/group with root and nobody."""
    (path / "bin").mkdir(parents=True)
    (path / "etc").mkdir()
    (path / "tmp").mkdir()
    os.link(BUSYBOX, path / "bin" / "busybox") if os.stat(BUSYBOX).st_dev == os.stat(path).st_dev else \
        (path / "bin" / "busybox").write_bytes(Path(BUSYBOX).read_bytes())
    os.chmod(path / "bin" / "busybox", 0o755)
    for applet in APPLETS:
        (path / "bin" / applet).symlink_to("busybox")
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return path


def tar_layer(entries) -> tuple:
    """entries: (name, kind, data) with kind file|dir|symlink; returns (gzip bytes, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def rootfs_layer(root: Path) -> tuple:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for child in sorted(root.iterdir()):
            tar.add(child, arcname=child.name)
    data = raw.getvalue()
    return gzip.compress(data, mtime=0), "sha256:" + hashlib.sha256(data).hexdigest()


def host_state() -> dict:
    """What the engine may add to the host: links, nat rules, cgroups, mounts."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    nat = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True).stdout
    cgroups = []
    for controller in ("memory", "pids", "cpu"):
        base = Path("/sys/fs/cgroup") / controller / "berth"
        if base.is_dir():
            cgroups += [p.name for p in base.iterdir() if p.is_dir()]
    mounts = Path("/proc/self/mountinfo").read_text()
    return {
        "veths": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines() if ": vb" in line),
        "dnat": sorted(line for line in nat.splitlines() if "DNAT" in line),
        "cgroups": sorted(cgroups),
        "overlays": sorted(line for line in mounts.splitlines() if " - overlay " in line),
    }

"""End-to-end tests of `berth run` and the container lifecycle, as root on this machine.

An image is made from busybox-static with `berth import`, pushed to a real berth-registry on
loopback, pulled by a second store and run; a second image with whiteouts is built as an OCI
layout, pushed with skopeo and pulled by berth. Each test checks output and exit codes as docker
reports them, and that the host is left as it was.
"""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from engine_support import busybox_rootfs, host_state, rootfs_layer, tar_layer
from images import LayoutWriter, busybox_layer
from programs import BERTH_CLIENT, Berth, free_port, is_executable
from registry_process import RegistryProcess
from skopeo_support import skopeo

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the engine needs root"),
    pytest.mark.skipif(not is_executable(BERTH_CLIENT), reason=f"{BERTH_CLIENT} not built"),
]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A registry holding two images, and a store that pulled them (the one tests run from)."""
    work = tmp_path_factory.mktemp("engine")
    reg = RegistryProcess(work / "registry", "berth", hostname="localhost").start()
    try:
        maker = Berth(work, "maker")
        rootfs = busybox_rootfs(work / "rootfs")
        base = f"{reg.host}/engine/busybox:1"
        maker.run("import", str(rootfs), base)
        maker.run("push", base)
        # Two layers: the top one whites out /etc/gone and makes /data opaque (both orders of
        # marker and files in the same layer), and adds /data/new.
        layout = LayoutWriter(work / "layered")
        gz1, diff1 = rootfs_layer(rootfs)
        (work / "extra").mkdir()
        gz2, diff2 = tar_layer([("etc/gone", "file", b"lower\n"), ("data", "dir", None),
                                ("data/old", "file", b"old\n"), ("etc/kept", "file", b"kept\n")])
        gz3, diff3 = tar_layer([("data/new", "file", b"new\n"), ("data/.wh..wh..opq", "file", b""),
                                ("etc/.wh.gone", "file", b"")])
        layers = [layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip") for gz in (gz1, gz2, gz3)]
        desc = layout.add_image(layers, diff_ids=[diff1, diff2, diff3])
        layout.tag(desc, "layered")
        layered = f"{reg.host}/engine/layered:1"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{work / 'layered'}:layered", f"docker://{layered}")
        runner = Berth(work, "runner")
        runner.run("pull", base)
        runner.run("pull", layered)
        yield {"berth": runner, "base": base, "layered": layered, "registry": reg, "work": work}
        for line in runner.run("ps", "-a", "-q").stdout.split():
            runner.run("rm", "-f", line, check=False)
    finally:
        reg.close()


@pytest.fixture
def berth(images):
    return images["berth"]


@pytest.fixture
def image(images):
    return images["base"]


def test_output_and_exit_codes(berth, image):
    out = berth.run("run", "--rm", "--network", "none", image, "sh", "-c", "echo hello; echo oops >&2; exit 3", check=False)
    assert (out.returncode, out.stdout, out.stderr) == (3, "hello\n", "oops\n")
    missing = berth.run("run", "--rm", "--network", "none", image, "no-such-command", check=False)
    assert missing.returncode == 127 and "executable file not found" in missing.stderr
    piped = berth.run("run", "--rm", "-i", "--network", "none", image, "sh", "-c", "cat; echo end", input="from stdin\n")
    assert piped.stdout == "from stdin\nend\n"
    closed = berth.run("run", "--rm", "--network", "none", image, "cat", input="ignored\n")
    assert closed.stdout == "", "without -i the container's stdin is /dev/null"
    engine_error = berth.run("run", "--rm", "--memory", "lots", image, "true", check=False)
    assert engine_error.returncode == 125 and "invalid size" in engine_error.stderr
    # PID 1 ignores signals it has no handler for, even from inside: a child shows 128+9.
    killed = berth.run("run", "--rm", "--network", "none", image, "sh", "-c", "sh -c 'kill -9 $$'; echo $?")
    assert killed.stdout == "137\n"


def test_a_pull_on_demand_leaves_stdout_to_the_container(images, tmp_path):
    # A store that has never seen the image: run pulls it first, and all of that goes to stderr,
    # so that `x=$(berth run ...)` captures the container's output only (as Docker does).
    fresh = Berth(tmp_path, "fresh")
    out = fresh.run("run", "--rm", "--network", "none", images["base"], "echo", "hello")
    assert out.stdout == "hello\n"
    assert "Unable to find image" in out.stderr and "Digest: sha256:" in out.stderr


def test_isolation_hostname_and_pid_1(berth, image):
    out = berth.run("run", "--rm", "--network", "none", "--hostname", "boxed", image,
                    "sh", "-c", "hostname; echo $$; cat /etc/hostname; ps -o pid,comm; true").stdout.split("\n")
    assert out[:3] == ["boxed", "1", "boxed"]
    processes = [line.split() for line in out[4:] if line.strip()]
    assert processes[0] == ["1", "sh"], out
    assert {comm for _, comm in processes} <= {"sh", "ps"}, "the container sees only its own processes"


def test_image_defaults_env_workdir_user(berth, image, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=yes\n")
    out = berth.run("run", "--rm", "--network", "none", "-e", "GREETING=hi", "--env-file", str(env_file),
                    "-w", "/tmp/work", "-u", "nobody", image, "sh", "-c", "echo $GREETING $FROM_FILE; pwd; id -u; id -g").stdout
    assert out.split() == ["hi", "yes", "/tmp/work", "65534", "65534"]


def test_whiteouts_hide_lower_files(images, berth):
    out = berth.run("run", "--rm", "--network", "none", images["layered"], "sh", "-c",
                    "ls /data; test -e /etc/gone && echo present || echo absent; cat /etc/kept").stdout.split()
    assert out == ["new", "absent", "kept"]


def test_memory_limit_kills_with_137(berth, image):
    out = berth.run("run", "--rm", "--network", "none", "--memory", "32m", image, "sh", "-c",
                    "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived", check=False)
    assert out.returncode == 137 and "survived" not in out.stdout


def test_pids_limit_stops_a_fork_bomb(berth, image):
    out = berth.run("run", "--rm", "--network", "none", "--pids-limit", "16", image, "sh", "-c",
                    "i=0; while [ $i -lt 64 ]; do sleep 30 & i=$((i+1)); done; echo spawned $i", check=False, timeout=60)
    assert "can't fork" in out.stderr, out
    assert "spawned 64" not in out.stdout


def test_read_only_root_and_bind_mounts(berth, image, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "in").write_text("from host\n")
    out = berth.run("run", "--rm", "--network", "none", "--read-only", "-v", f"{shared}:/mnt/rw",
                    "-v", f"{shared}:/mnt/ro:ro", image, "sh", "-c",
                    "cat /mnt/ro/in; echo out > /mnt/rw/out; touch /root-file || echo ro-root; "
                    "touch /mnt/ro/x || echo ro-bind", check=False)
    assert out.stdout.split("\n")[:3] == ["from host", "ro-root", "ro-bind"], out
    assert (shared / "out").read_text() == "out\n"
    assert not (shared / "x").exists()


def test_bridge_containers_reach_each_other_and_published_port(berth, image):
    before = host_state()
    port = free_port()
    started = berth.run("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", image, "sh", "-c",
                        "mkdir /www; echo served > /www/index.html; echo up; exec httpd -f -p 80 -h /www")
    cid = started.stdout.strip()
    assert len(cid) == 64
    try:
        address = json.loads(berth.run("inspect", "web").stdout)["network"]["address"]
        out = berth.run("run", "--rm", image, "wget", "-q", "-O", "-", f"http://{address}/").stdout
        assert out == "served\n"
        body = None
        for _ in range(50):
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        assert body == b"served\n"
        assert "up" in berth.run("logs", "web").stdout
        ps = berth.run("ps").stdout
        assert "web" in ps and f"127.0.0.1:{port}->80/tcp" in ps
    finally:
        berth.run("rm", "-f", "web")
    assert host_state() == before
    assert "web" not in berth.run("ps", "-a").stdout


def test_exec_into_a_running_container(berth, image):
    berth.run("run", "-d", "--name", "execd", "--hostname", "inside", "--network", "none", image, "sleep", "300")
    try:
        out = berth.run("exec", "-e", "X=1", "execd", "sh", "-c", "hostname; echo $X; ps -o pid,comm").stdout
        lines = out.split("\n")
        assert lines[0] == "inside" and lines[1] == "1"
        assert any(line.split() == ["1", "sleep"] for line in lines), out
        assert berth.run("exec", "execd", "sh", "-c", "exit 5", check=False).returncode == 5
    finally:
        berth.run("rm", "-f", "execd")
    gone = berth.run("exec", "execd", "true", check=False)
    assert gone.returncode == 125 and "no such container" in gone.stderr


def test_stop_a_container_that_ignores_sigterm(berth, image):
    berth.run("run", "-d", "--name", "stubborn", "--network", "none", image, "sh", "-c",
              "trap '' TERM; while :; do sleep 0.1; done")
    started = time.monotonic()
    berth.run("stop", "-t", "1", "stubborn")
    assert time.monotonic() - started < 8
    assert "Exited (137)" in berth.run("ps", "-a").stdout
    berth.run("run", "-d", "--name", "polite", "--network", "none", image, "sh", "-c",
              "trap 'exit 0' TERM; while :; do sleep 0.1; done")
    berth.run("stop", "-t", "5", "polite")
    assert "Exited (0)" in berth.run("ps", "-a").stdout  # it ended on SIGTERM, not on the SIGKILL after 5 s
    berth.run("run", "-d", "--name", "busy", "--network", "none", image, "sleep", "300")
    assert "stop it first" in berth.run("rm", "busy", check=False).stderr
    berth.run("kill", "-s", "KILL", "busy")
    for _ in range(100):  # kill only sends the signal; the supervisor records the end
        if berth.run("ps", "-a").stdout.count("Exited (137)") == 2:
            break
        time.sleep(0.05)
    assert berth.run("ps", "-a").stdout.count("Exited (137)") == 2
    berth.run("rm", "stubborn", "polite", "busy")


def test_rm_after_a_crash_of_the_supervisor_cleans_up(berth, image):
    before = host_state()
    berth.run("run", "-d", "--name", "orphan", image, "sleep", "300")
    record = json.loads(berth.run("inspect", "orphan").stdout)
    os.kill(record["monitorPid"], 9)  # the supervisor dies; the container keeps running
    os.kill(record["pid"], 9)         # then the container goes too, with nobody to record it
    time.sleep(0.3)
    assert "Exited" in berth.run("ps", "-a").stdout  # the next berth reconciles
    berth.run("rm", "orphan")
    assert host_state() == before


def test_network_create_and_container_network_mode(berth, image):
    berth.run("network", "create", "--subnet", "10.118.200.0/24", "e2enet")
    try:
        assert "10.118.200.0/24" in berth.run("network", "ls").stdout
        berth.run("run", "-d", "--name", "netholder", "--network", "e2enet", image, "sleep", "300")
        out = berth.run("run", "--rm", "--network", "container:netholder", image, "ip", "-4", "-o", "addr").stdout
        assert "10.118.200." in out
        assert "has containers" in berth.run("network", "rm", "e2enet", check=False).stderr
        berth.run("rm", "-f", "netholder")
    finally:
        berth.run("network", "rm", "e2enet", check=False)
    assert "e2enet" not in berth.run("network", "ls").stdout


def test_malicious_layers_are_refused_and_write_nothing_outside(images, tmp_path):
    reg, work = images["registry"], images["work"]
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = {
        "traversal": [("../../../../" + str(outside).lstrip("/") + "/pwned", "file", b"x")],
        "symlink": [("escape", "symlink", str(outside)), ("escape/pwned", "file", b"x")],
    }
    runner = Berth(tmp_path, "victim")
    for name, entries in cases.items():
        layout = LayoutWriter(tmp_path / name)
        gz, diff = tar_layer(entries)
        base_gz, base_diff = busybox_layer()
        layers = [layout.add_bytes(base_gz, "application/vnd.oci.image.layer.v1.tar+gzip"),
                  layout.add_bytes(gz, "application/vnd.oci.image.layer.v1.tar+gzip")]
        layout.tag(layout.add_image(layers, diff_ids=[base_diff, diff]), name)
        ref = f"{reg.host}/engine/evil-{name}:1"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path / name}:{name}", f"docker://{ref}")
        out = runner.run("run", "--rm", "--network", "none", ref, "true", check=False)
        assert out.returncode == 125 and "refused" in out.stderr, out
    assert list(outside.iterdir()) == []
    snapshots = runner.root / "snapshots"
    assert not [p for p in snapshots.iterdir() if p.name.startswith(".tmp-")]


def test_interactive_terminal(berth, image):
    """`-it`: the container gets a terminal (TERM set), reads what is typed, and its exit
    status comes back through it."""
    import pty
    import select
    pid, fd = pty.fork()
    if pid == 0:
        os.environ.update(berth.env())
        os.execv(BERTH_CLIENT, ["berth", "run", "-it", "--rm", "--network", "none", image, "sh"])
    output = b""

    def read_for(seconds):
        nonlocal output
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    output += os.read(fd, 4096)
                except OSError:
                    return
    read_for(1.5)
    os.write(fd, b"test -t 0 && echo IS-A-TTY-$((6*7)); echo TERM=$TERM; exit 7\n")
    read_for(3)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert b"IS-A-TTY-42" in output and b"TERM=xterm" in output, output


def test_hardening_nul_injection_capabilities_and_devices(berth, image, tmp_path):
    # A NUL in a value would end the init's config entry and start a new one (`mount=/:/host`).
    env_file = tmp_path / "evil.env"
    env_file.write_bytes(b"A=1\x00mount=/:/host:rw\n")
    smuggled = berth.run("run", "--rm", "--network", "none", "--env-file", str(env_file), image,
                         "sh", "-c", "ls /host", check=False)
    assert smuggled.returncode == 125 and "NUL" in smuggled.stderr, smuggled
    # A non-root user keeps no capabilities (docker's behaviour), root keeps runc's default set.
    caps = berth.run("run", "--rm", "--network", "none", "-u", "65534", image, "sh", "-c",
                     "grep -E '^Cap(Eff|Inh|Amb)' /proc/self/status").stdout.split()
    assert caps == ["CapInh:", "0000000000000000", "CapEff:", "0000000000000000", "CapAmb:", "0000000000000000"]
    root_caps = berth.run("run", "--rm", "--network", "none", image, "sh", "-c", "grep CapEff /proc/self/status").stdout
    assert root_caps.split()[1] not in ("0000000000000000", "000001ffffffffff")
    # A block device node made (or shipped) in the container cannot reach the host's disks.
    disk = berth.run("run", "--rm", "--network", "none", image, "sh", "-c",
                     "mknod /dev/hostdisk b 8 0 2>/dev/null; mknod /tmp/hostdisk b 8 0 2>/dev/null; "
                     "head -c 1 /dev/hostdisk >/dev/null 2>&1 && echo dev-open; "
                     "head -c 1 /tmp/hostdisk >/dev/null 2>&1 && echo root-open; echo checked")
    assert disk.stdout.split() == ["checked"], disk

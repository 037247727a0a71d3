"""The programs under test and how the end-to-end tests run them.

One place knows where the binaries are (BERTH_BIN_DIR, default REPO_ROOT/.build/debug; Distribution's
`docker-registry` from DISTRIBUTION_BIN, default /usr/bin/docker-registry), and one class starts a
server program, waits until it answers, and stops it; RegistryProcess (berth-registry, Distribution)
and BerthAuth build on it. Berth runs the client with a store and Docker config of its own.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

from images import sha256_file

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("BERTH_BIN_DIR") or (REPO_ROOT / ".build" / "debug"))
if not BIN_DIR.is_absolute():
    BIN_DIR = (REPO_ROOT / BIN_DIR).resolve()
BERTH_CLIENT = BIN_DIR / "berth"
BERTH_REGISTRY = BIN_DIR / "berth-registry"
BERTH_AUTH = BIN_DIR / "berth-auth"
DISTRIBUTION_BIN = Path(os.environ.get("DISTRIBUTION_BIN", "/usr/bin/docker-registry"))
HARNESS_MARK = "==== harness: starting"   # the line start() writes into the log before each start


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_executable(path) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


class ServerProcess:
    """A long-running program with its output in one log file (appended across restarts).

    Subclasses say how to start it (argv(), env()) and when it is ready (probe() returns True);
    start() waits for that, stop() sends SIGTERM and raises if the program ignores it.
    """

    name = "server"

    def __init__(self, workdir, *, port: int | None = None, ready_timeout: float = 30.0,
                 log_name: str = "server.log"):
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.log_path = self.workdir / log_name
        self.proc: subprocess.Popen | None = None

    # ----- what to run (override)
    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict | None:
        return None

    def prepare(self) -> None:
        """Called before every start (e.g. to write the config file)."""

    def probe(self) -> bool:
        """True once the program serves; may raise OSError while it does not listen yet."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2):
            return True

    def not_ready_reason(self) -> str:
        return ""

    # ----- lifecycle
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        if self.is_running():
            return self
        self.prepare()
        argv = self.argv()
        with open(self.log_path, "ab") as log:
            log.write(f"\n{HARNESS_MARK} {self.name} {argv[0]} on port {self.port} at {time.ctime()}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env(), cwd=str(self.workdir))
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} during start-up\n{self.log_tail()}")
            try:
                if self.probe():
                    return
                last = self.not_ready_reason()
            except Exception as e:  # refused, reset, TLS or HTTP errors: not ready yet
                last = repr(e)
            time.sleep(0.05)
        self._force_kill()
        raise RuntimeError(f"{self.name} not ready on port {self.port} after {self.ready_timeout}s ({last})\n"
                           f"{self.log_tail()}")

    def _force_kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        """Graceful stop (SIGTERM). Raises RuntimeError if the program ignored it for `timeout` s."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._force_kill()
                raise RuntimeError(f"{self.name} ignored SIGTERM for {timeout}s; killed\n{self.log_tail()}")
        return self.proc.returncode

    def kill9(self) -> None:
        """SIGKILL: no chance to clean up (crash simulation)."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self, graceful: bool = True):
        """Stop (SIGTERM, or SIGKILL when not graceful) and start again on the same port."""
        if graceful:
            self.stop()
        else:
            self.kill9()
        deadline = time.monotonic() + 10
        while True:  # the port may linger briefly after exit
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self):
        """Teardown helper: stop gracefully, fall back to SIGKILL without raising."""
        try:
            self.stop()
        except Exception:
            self._force_kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    # ----- the log
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_since_start(self) -> str:
        """What the program wrote since its last start (without the harness's own line)."""
        return self.log_text().rsplit(HARNESS_MARK, 1)[-1].split("\n", 1)[-1]

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return f"(no log at {self.log_path})"
        tail = "\n".join(self.log_text().splitlines()[-lines:])
        return f"---- last {lines} lines of {self.log_path} ----\n{tail}"


class BerthAuth(ServerProcess):
    """berth-auth serving `config_text` (written to workdir/auth.yml; relative paths in it are
    relative to workdir); ready once its TLS port completes a handshake and answers HTTP."""

    name = "berth-auth"

    def __init__(self, workdir, config_text: str, *, port: int, ca_cert, log_name: str = "auth.log"):
        super().__init__(workdir, port=port, log_name=log_name)
        self.config_path = self.workdir / "auth.yml"
        self.config_text = config_text
        self.ca_cert = Path(ca_cert)

    def prepare(self):
        self.config_path.write_text(self.config_text)

    def argv(self):
        return [str(BERTH_AUTH), "serve", str(self.config_path)]

    def probe(self) -> bool:
        import http.client
        ctx = ssl.create_default_context(cafile=str(self.ca_cert))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=ctx)
        try:
            conn.request("GET", "/")
            conn.getresponse().read()
            return True
        finally:
            conn.close()


class Berth:
    """Runs the berth client with its own store (BERTH_ROOT) and Docker config directory."""

    def __init__(self, workdir: Path, name: str = "berth"):
        self.root = workdir / f"{name}-store"
        self.docker_config = workdir / f"{name}-docker"
        self.docker_config.mkdir(parents=True, exist_ok=True)
        self.extra_env: dict = {}

    def env(self) -> dict:
        env = dict(os.environ)
        env.update({"BERTH_ROOT": str(self.root), "DOCKER_CONFIG": str(self.docker_config)})
        env.update(self.extra_env)
        return env

    def run(self, *args, input: str | None = None, check: bool = True, timeout: float = 300):
        proc = subprocess.run([str(BERTH_CLIENT), *args], env=self.env(), input=input, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"berth {' '.join(args)} failed ({proc.returncode}):\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def popen(self, *args):
        return subprocess.Popen([str(BERTH_CLIENT), *args], env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def index(self) -> dict:
        return json.loads((self.root / "index.json").read_text())

    def verify_store(self) -> None:
        """Every blob in the store hashes to its name."""
        for blob in (self.root / "blobs" / "sha256").iterdir():
            assert sha256_file(blob) == blob.name, f"corrupt blob {blob}"

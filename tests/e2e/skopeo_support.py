"""skopeo, the reference client the tests push and pull with: one runner for every test module.

Every call is `skopeo --insecure-policy ARGS` with stdin closed; once set_skopeo_home() has named a
directory (conftest does, per test module), skopeo sees no stored credentials but those a test
passes on its command line (no ~/.docker or auth.json leaks in).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path


def skopeo_env(home: Path) -> dict:
    """Environment for skopeo with no credentials but the ones a test passes on the command line."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGISTRY_AUTH_FILE", "DOCKER_CONFIG"))}
    env["REGISTRY_AUTH_FILE"] = str(home / "auth.json")   # absent file = no stored credentials
    env["DOCKER_CONFIG"] = str(home / "docker")
    env["XDG_RUNTIME_DIR"] = str(home / "run")
    (home / "run").mkdir(exist_ok=True)
    return env


_ENV_HOME: Path | None = None


def set_skopeo_home(path: Path) -> None:
    global _ENV_HOME
    _ENV_HOME = Path(path)


def skopeo(*args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    """`skopeo --insecure-policy ARGS` (text); raises with stdout/stderr when check and it fails."""
    cmd = ["skopeo", "--insecure-policy", *[str(a) for a in args]]
    env = skopeo_env(_ENV_HOME) if _ENV_HOME else None
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {res.returncode}\nstdout: {res.stdout[-2000:]}\n"
                             f"stderr: {res.stderr[-4000:]}")
    return res


def skopeo_fails(*args, timeout: float = 300) -> str:
    """Run skopeo expecting failure; returns its stderr (lower-cased)."""
    res = skopeo(*args, check=False, timeout=timeout)
    assert res.returncode != 0, f"skopeo {' '.join(map(str, args))} unexpectedly succeeded:\n{res.stdout}\n{res.stderr}"
    return res.stderr.lower()


def skopeo_copy(src: str, dst: str, registry=None, *extra, check=True,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """skopeo copy with TLS verification off on docker:// ends and the basic-auth credentials of
    `registry` (a RegistryProcess) if it has any."""
    args = ["copy"]
    for side, ref in (("src", src), ("dest", dst)):
        if ref.startswith("docker://"):
            args.append(f"--{side}-tls-verify=false")
            if registry is not None and registry.credentials:
                args.append(f"--{side}-creds={registry.credentials[0]}:{registry.credentials[1]}")
    return skopeo(*args, *extra, src, dst, check=check, timeout=timeout)

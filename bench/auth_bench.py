"""Tokens per second (password grants at the configured bcrypt cost, refresh-token grants) and
berth-registry's manifest GET rate with token auth on versus off, in one run on loopback.

Uses registry_bench.Server for both registries (same config, plus an `auth.token` section for the
second one). Every process started here is stopped and the temp dir removed, also on failure."""
import argparse
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

from registry_bench import OCI_MANIFEST, Server, free_port, push_image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def wrk_rate(url, seconds, headers=(), script=None):
    cmd = ["wrk", "-c16", "-t2", f"-d{seconds}s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    assert "Non-2xx" not in out, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


class TokenServer(Server):
    """A registry_bench.Server that can be switched to token auth: `enable_token_auth` appends an
    `auth.token` section to its config; after that, start() waits for GET /v2/ to answer 401."""

    def enable_token_auth(self, realm, rootcertbundle):
        with open(self.config, "a") as f:
            f.write(f"auth:\n  token:\n    realm: \"{realm}\"\n    service: berth-registry\n"
                    f"    issuer: berth-auth\n    rootcertbundle: {rootcertbundle}\n")
        self.ready_status = 401


class AuthServer:
    def __init__(self, binary, workdir, port):
        self.config = os.path.join(workdir, "auth.yml")
        self.log_path = os.path.join(workdir, "auth.log")
        self.binary, self.realm, self.proc = binary, f"http://127.0.0.1:{port}/token", None
        self.name = "berth-auth"

    def start(self):
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([self.binary, "serve", self.config], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berth-auth exited during start-up:\n{open(self.log_path).read()[-3000:]}")
            try:
                requests.get(self.realm, timeout=1)   # any answer (401 without credentials) means it is up
                return self
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError("berth-auth did not answer within 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", default=os.path.join(REPO, ".build", "release"),
                        help="directory holding berth-registry and berth-auth (default .build/release)")
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    parser.add_argument("--cost", type=int, default=10, help="bcrypt cost of the benchmark user")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin)
    registry_bin, auth_bin = os.path.join(bin_dir, "berth-registry"), os.path.join(bin_dir, "berth-auth")
    for path in (registry_bin, auth_bin):
        if not os.access(path, os.X_OK):
            sys.exit(f"auth_bench: {path} is missing or not executable")
    for tool in ("wrk", "htpasswd", "openssl"):
        if not shutil.which(tool):
            sys.exit(f"auth_bench: {tool} is not installed (scripts/install-deps.sh)")

    work = tempfile.mkdtemp(prefix="berth-auth-bench-")
    servers = []   # everything started, stopped in the finally block
    try:
        certs = os.path.join(work, "certs")
        subprocess.run(["bash", os.path.join(REPO, "certs-example", "make-certs.sh"), certs],
                       check=True, capture_output=True)
        pw = subprocess.run(["htpasswd", "-nbB", "-C", str(args.cost), "bench", "bench-password"],
                            check=True, capture_output=True, text=True).stdout
        with open(os.path.join(work, "users.htpasswd"), "w") as f:
            f.write(pw)
        auth = AuthServer(auth_bin, work, free_port())
        with open(auth.config, "w") as f:
            f.write(f"""
server: {{addr: "{auth.realm.split('/')[2]}", ratelimit: {{burst: 1000000, per_minute: 1000000}}}}
token: {{issuer: berth-auth, service: berth-registry, expiration: 3600, certificate: {certs}/token.crt, key: {certs}/token.key}}
users: {{htpasswd: {work}/users.htpasswd}}
acl:
  - match: {{account: bench}}
    actions: ["*"]
""")
        servers.append(auth)
        auth.start()
        realm = auth.realm

        log("password grants")
        basic = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        password_rate = wrk_rate(f"{realm}?service=berth-registry&scope=repository:bench/app:pull", args.seconds,
                                 [f"Authorization: {basic}"])
        log("refresh-token grants")
        r = requests.post(realm, data={"grant_type": "password", "username": "bench", "password": "bench-password",
                                       "service": "berth-registry", "client_id": "bench", "access_type": "offline"})
        r.raise_for_status()
        refresh = r.json()["refresh_token"]
        script = os.path.join(work, "refresh.lua")
        with open(script, "w") as f:
            f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
                    f'wrk.body = "grant_type=refresh_token&refresh_token={refresh}&client_id=bench'
                    '&service=berth-registry&scope=repository:bench/app:pull"\n')
        refresh_rate = wrk_rate(realm, args.seconds, script=script)

        # Registry: token auth on vs off, same content. The tokened one is filled while it runs
        # without auth, then restarted with the auth.token section appended to its config.
        plain = Server("plain", registry_bin, work)
        servers.append(plain)
        plain.start()
        push_image(plain, "bench/app", "latest")
        tokened = TokenServer("tokened", registry_bin, work)
        servers.append(tokened)
        tokened.start()
        push_image(tokened, "bench/app", "latest")
        tokened.stop()
        tokened.enable_token_auth(realm, os.path.join(certs, "token.crt"))
        tokened.start()

        jwt = requests.get(realm, params={"service": "berth-registry", "scope": "repository:bench/app:pull"},
                           headers={"Authorization": basic}).json()["token"]
        accept = f"Accept: {OCI_MANIFEST}"
        path = "/v2/bench/app/manifests/latest"
        status = requests.get(tokened.url(path), headers={"Accept": OCI_MANIFEST, "Authorization": f"Bearer {jwt}"}).status_code
        assert status == 200, f"manifest GET with the token answered {status}"
        assert requests.get(tokened.url(path)).status_code == 401, "token auth is not enforced"
        log("manifest GET, no auth / bearer token")
        # The unauthenticated run carries a header of the token's size, so that both runs parse and
        # send the same bytes and the difference is the verification itself.
        off = wrk_rate(plain.url(path), args.seconds, [accept, f"X-Padding: {'x' * (len(jwt) + 7)}"])
        on = wrk_rate(tokened.url(path), args.seconds, [accept, f"Authorization: Bearer {jwt}"])
        print(f"\nberth-auth and token verification (bcrypt cost {args.cost}, wrk -c16 -t2 -d{args.seconds}s, "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})\n")
        print("| measure | value |")
        print("|---|---:|")
        print(f"| password grants (tokens/s) | {password_rate:,.0f} |")
        print(f"| refresh-token grants (tokens/s) | {refresh_rate:,.0f} |")
        print(f"| manifest GET, no auth (req/s) | {off:,.0f} |")
        print(f"| manifest GET, bearer token (req/s) | {on:,.0f} |")
        print(f"| cost of token verification | {max(0.0, (1 - on / off) * 100):.1f}% |")
    except BaseException:
        for s in servers:
            try:
                log(f"---- {s.name} log tail ----\n" + open(s.log_path, errors="replace").read()[-3000:])
            except OSError:
                pass
        raise
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

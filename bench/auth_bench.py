"""Tokens per second (password grants at the configured bcrypt cost, refresh-token grants) and
berth-registry's manifest GET rate with token auth on versus off, in one run on loopback."""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import requests

from registry_bench import Server, free_port, push_image, wrk

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def wrk_rate(url, seconds, headers=(), script=None):
    cmd = ["wrk", "-c16", "-t2", f"-d{seconds}s"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], check=True, capture_output=True, text=True).stdout
    assert "Non-2xx" not in out, out
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--cost", type=int, default=10, help="bcrypt cost of the benchmark user")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="berth-auth-bench-")
    procs = []
    try:
        subprocess.run(["bash", os.path.join(REPO, "certs-example", "make-certs.sh"), os.path.join(work, "certs")],
                       check=True, capture_output=True)
        pw = subprocess.run(["htpasswd", "-nbB", "-C", str(args.cost), "bench", "bench-password"],
                            check=True, capture_output=True, text=True).stdout
        open(os.path.join(work, "users.htpasswd"), "w").write(pw)
        auth_port = free_port()
        open(os.path.join(work, "auth.yml"), "w").write(f"""
server: {{addr: 127.0.0.1:{auth_port}, ratelimit: {{burst: 1000000, per_minute: 1000000}}}}
token: {{issuer: berth-auth, service: berth-registry, expiration: 3600, certificate: certs/token.crt, key: certs/token.key}}
users: {{htpasswd: users.htpasswd}}
acl:
  - match: {{account: bench}}
    actions: ["*"]
""")
        procs.append(subprocess.Popen([os.path.join(bin_dir, "berth-auth"), "serve", os.path.join(work, "auth.yml")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        realm = f"http://127.0.0.1:{auth_port}/token"
        for _ in range(100):
            try:
                requests.get(realm, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.1)
        basic = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        password_rate = wrk_rate(f"{realm}?service=berth-registry&scope=repository:bench/app:pull", args.seconds, [f"Authorization: {basic}"])
        refresh = requests.post(realm, data={"grant_type": "password", "username": "bench", "password": "bench-password",
                                             "service": "berth-registry", "client_id": "bench", "access_type": "offline"}).json()["refresh_token"]
        script = os.path.join(work, "refresh.lua")
        open(script, "w").write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
            f'wrk.body = "grant_type=refresh_token&refresh_token={refresh}&client_id=bench&service=berth-registry&scope=repository:bench/app:pull"\n')
        refresh_rate = wrk_rate(realm, args.seconds, script=script)

        # Registry: token auth on vs off, same content.
        plain = Server("plain", [os.path.join(bin_dir, "berth-registry")], work)
        procs.append(plain.proc)
        push_image(plain, "bench/app", "latest")
        tokened = Server("tokened", [os.path.join(bin_dir, "berth-registry")], work)
        procs.append(tokened.proc)
        push_image(tokened, "bench/app", "latest")
        tokened.stop()
        config = os.path.join(work, "tokened.yml")
        text = open(config).read() + (f"auth:\n  token: {{realm: \"{realm}\", service: berth-registry, issuer: berth-auth, "
                                      f"rootcertbundle: {os.path.join(work, 'certs', 'token.crt')}}}\n")
        open(config, "w").write(text)
        tokened.proc = subprocess.Popen([os.path.join(bin_dir, "berth-registry"), "serve", config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(tokened.proc)
        time.sleep(1.5)
        jwt = requests.get(realm, params={"service": "berth-registry", "scope": "repository:bench/app:pull"},
                           headers={"Authorization": basic}).json()["token"]
        accept = "Accept: application/vnd.oci.image.manifest.v1+json"
        # The unauthenticated run carries a header of the token's size, so that both runs parse and
        # send the same bytes and the difference is the verification itself.
        off = wrk_rate(plain.url("/v2/bench/app/manifests/latest"), args.seconds, [accept, f"X-Padding: {'x' * (len(jwt) + 7)}"])
        on = wrk_rate(f"http://127.0.0.1:{tokened.port}/v2/bench/app/manifests/latest", args.seconds,
                      [accept, f"Authorization: Bearer {jwt}"])
        print(f"\nberth-auth and token verification (bcrypt cost {args.cost}, wrk -c16 -t2 -d{args.seconds}s)\n")
        print("| measure | value |")
        print("|---|---:|")
        print(f"| password grants (tokens/s) | {password_rate:,.0f} |")
        print(f"| refresh-token grants (tokens/s) | {refresh_rate:,.0f} |")
        print(f"| manifest GET, no auth (req/s) | {off:,.0f} |")
        print(f"| manifest GET, bearer token (req/s) | {on:,.0f} |")
        print(f"| cost of token verification | {max(0.0, (1 - on / off) * 100):.1f}% |")
    finally:
        for proc in procs:
            proc.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""berth-auth and the token flow end to end, over TLS with certificates from certs-example:
skopeo login/copy against berth-registry and against Distribution 2.8.2, the ACL, refresh
tokens, and the attacks the token endpoint must refuse."""
import base64
import json
import subprocess
import time
from pathlib import Path

import pytest
import requests

from test_registry_smoke import BERTH, BIN_DIR, REPO, busybox_layout, free_port, stop

BERTH_AUTH = BIN_DIR / "berth-auth"


def wait_listening(proc, log, url, ca):
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, Path(log).read_text()[-2000:]
        try:
            requests.get(url, verify=str(ca), timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("not listening: " + url)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    certs = tmp / "certs"
    subprocess.run(["bash", str(REPO / "certs-example" / "make-certs.sh"), str(certs)], check=True, capture_output=True)
    users = "".join(subprocess.run(["htpasswd", "-Bbn", user, pw], check=True, capture_output=True, text=True).stdout
                    for user, pw in (("alice", "alice-secret"), ("bob", "bob-secret"), ("admin", "admin-secret")))
    (tmp / "users.htpasswd").write_text(users)
    auth_port, reg_port, dist_port = free_port(), free_port(), free_port()
    (tmp / "auth.yml").write_text(f"""
server:
  addr: 127.0.0.1:{auth_port}
  tls: {{certificate: certs/server.crt, key: certs/server.key}}
  ratelimit: {{burst: 5, per_minute: 1}}
token:
  issuer: berth-auth
  service: berth-registry
  expiration: 300
  certificate: certs/token.crt
  key: certs/token.key
users:
  htpasswd: users.htpasswd
acl:
  - match: {{account: admin}}
    actions: ["*"]
  - match: {{account: "/.+/", name: "${{account}}/*"}}
    actions: [pull, push, delete]
  - match: {{account: "/.+/"}}
    actions: [pull]
  - match: {{account: "", name: "public/*"}}
    actions: [pull]
""")
    realm = f"https://127.0.0.1:{auth_port}/token"
    token_auth = (f"auth:\n  token:\n    realm: {realm}\n    service: berth-registry\n    issuer: berth-auth\n"
                  f"    rootcertbundle: {certs / 'token.crt'}\n")
    tls = f"  tls: {{certificate: {certs / 'server.crt'}, key: {certs / 'server.key'}}}\n"
    (tmp / "registry.yml").write_text(f"version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {tmp / 'reg'}}}\n"
                                      f"  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{reg_port}\n{tls}{token_auth}")
    (tmp / "dist.yml").write_text(f"version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {tmp / 'dist'}}}\n"
                                  f"http:\n  addr: 127.0.0.1:{dist_port}\n{tls}{token_auth}")
    procs = []
    for name, cmd, port in (("auth", [str(BERTH_AUTH), "serve", str(tmp / "auth.yml")], auth_port),
                            ("registry", [str(BERTH), "serve", str(tmp / "registry.yml")], reg_port),
                            ("dist", ["docker-registry", "serve", str(tmp / "dist.yml")], dist_port)):
        log = tmp / f"{name}.log"
        proc = subprocess.Popen(cmd, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        procs.append(proc)
        wait_listening(proc, log, f"https://127.0.0.1:{port}/", certs / "ca.crt")
    trust = tmp / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "ca.crt").write_bytes((certs / "ca.crt").read_bytes())
    src = tmp / "src"
    digest = busybox_layout(src)
    yield {"tmp": tmp, "certs": certs, "trust": trust, "realm": realm, "auth": auth_port, "registry": reg_port,
           "dist": dist_port, "src": src, "digest": digest}
    for proc in procs:
        stop(proc)


def skopeo(stack, *args, check=True):
    result = subprocess.run(["skopeo", *args], capture_output=True, text=True)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def login(stack, host_port, user, password):
    authfile = stack["tmp"] / f"{user}-{host_port}.json"
    skopeo(stack, "login", "--cert-dir", str(stack["trust"]), "--authfile", str(authfile),
           "-u", user, "-p", password, f"127.0.0.1:{host_port}")
    return authfile


def token(stack, user=None, password=None, scopes=("repository:alice/app:pull",), **extra):
    params = [("service", "berth-registry")] + [("scope", s) for s in scopes] + list(extra.items())
    return requests.get(stack["realm"], params=params, auth=(user, password) if user else None,
                        verify=str(stack["certs"] / "ca.crt"))


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("target", ["registry", "dist"])
def test_login_then_push_and_pull(stack, target):
    port = stack[target]
    authfile = login(stack, port, "alice", "alice-secret")
    ref = f"docker://127.0.0.1:{port}/alice/busybox:1"
    skopeo(stack, "copy", "--authfile", str(authfile), "--dest-cert-dir", str(stack["trust"]), f"oci:{stack['src']}:latest", ref)
    out = stack["tmp"] / f"out-{target}"
    skopeo(stack, "copy", "--authfile", str(authfile), "--src-cert-dir", str(stack["trust"]), ref, f"oci:{out}:x")
    inspected = json.loads(skopeo(stack, "inspect", "--authfile", str(authfile), "--cert-dir", str(stack["trust"]), ref).stdout)
    assert inspected["Digest"] == stack["digest"]


def test_user_without_push_is_denied(stack):
    login(stack, stack["registry"], "alice", "alice-secret")
    skopeo(stack, "copy", "--authfile", str(stack["tmp"] / f"alice-{stack['registry']}.json"), "--dest-cert-dir",
           str(stack["trust"]), f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/alice/denied:1")
    bob = login(stack, stack["registry"], "bob", "bob-secret")
    result = skopeo(stack, "copy", "--authfile", str(bob), "--dest-cert-dir", str(stack["trust"]),
                    f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/alice/denied:2", check=False)
    assert result.returncode != 0
    assert "denied" in result.stderr or "insufficient_scope" in result.stderr or "unauthorized" in result.stderr
    tags = json.loads(skopeo(stack, "list-tags", "--authfile", str(bob), "--cert-dir", str(stack["trust"]),
                             f"docker://127.0.0.1:{stack['registry']}/alice/denied").stdout)
    assert tags["Tags"] == ["1"], "bob may pull but pushed nothing"


def test_anonymous_pull_of_public_only(stack):
    admin = login(stack, stack["registry"], "admin", "admin-secret")
    skopeo(stack, "copy", "--authfile", str(admin), "--dest-cert-dir", str(stack["trust"]),
           f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/public/busybox:1")
    anonymous = stack["tmp"] / "anonymous.json"
    anonymous.write_text('{"auths": {}}')
    skopeo(stack, "inspect", "--authfile", str(anonymous), "--cert-dir", str(stack["trust"]),
           f"docker://127.0.0.1:{stack['registry']}/public/busybox:1")
    private = skopeo(stack, "inspect", "--authfile", str(anonymous), "--cert-dir", str(stack["trust"]),
                     f"docker://127.0.0.1:{stack['registry']}/alice/busybox:1", check=False)
    assert private.returncode != 0


def test_grant_is_the_intersection_and_catalog_works(stack):
    reply = token(stack, "alice", "alice-secret", scopes=("repository:alice/app:pull,push,delete", "repository:bob/app:pull,push",
                                                          "registry:catalog:*"))
    assert reply.status_code == 200
    body = reply.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and "issued_at" in body
    access = {(a["type"], a["name"]): set(a["actions"]) for a in claims_of(body["token"])["access"]}
    assert access == {("repository", "alice/app"): {"pull", "push", "delete"}, ("repository", "bob/app"): {"pull"}}
    admin = token(stack, "admin", "admin-secret", scopes=("registry:catalog:*",)).json()["token"]
    catalog = requests.get(f"https://127.0.0.1:{stack['registry']}/v2/_catalog", headers={"Authorization": f"Bearer {admin}"},
                           verify=str(stack["certs"] / "ca.crt"))
    assert catalog.status_code == 200 and "repositories" in catalog.json()
    header = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[0] + "=="))
    assert header["alg"] == "ES256" and header["kid"] and header["x5c"]
    jwks = requests.get(f"https://127.0.0.1:{stack['auth']}/.well-known/jwks.json", verify=str(stack["certs"] / "ca.crt")).json()
    assert jwks["keys"][0]["kid"] == header["kid"]


def test_refresh_token_flow(stack):
    form = {"grant_type": "password", "username": "alice", "password": "alice-secret", "service": "berth-registry",
            "scope": "repository:alice/app:pull", "client_id": "e2e", "access_type": "offline"}
    first = requests.post(stack["realm"], data=form, verify=str(stack["certs"] / "ca.crt"))
    assert first.status_code == 200
    refresh = first.json()["refresh_token"]
    again = requests.post(stack["realm"], data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "e2e",
                                                "service": "berth-registry", "scope": "repository:alice/app:pull,push"},
                          verify=str(stack["certs"] / "ca.crt"))
    assert again.status_code == 200
    assert claims_of(again.json()["access_token"])["sub"] == "alice"
    stolen = requests.post(stack["realm"], data={"grant_type": "refresh_token", "refresh_token": refresh, "client_id": "other",
                                                 "service": "berth-registry"}, verify=str(stack["certs"] / "ca.crt"))
    assert stolen.status_code == 401


def test_berth_client_logs_in_through_berth_auth(stack, tmp_path):
    """The berth client against berth-registry + berth-auth over TLS: login stores a refresh
    token (never the password), push and pull work for the owner, another user is denied push."""
    from client_support import BERTH as BERTH_CLIENT, Berth as BerthClient
    if not Path(BERTH_CLIENT).exists():
        pytest.skip("berth client not built")
    certs_d = tmp_path / "certs.d"
    for port in (stack["registry"], stack["auth"]):
        (certs_d / f"127.0.0.1:{port}").mkdir(parents=True)
        (certs_d / f"127.0.0.1:{port}" / "ca.crt").write_bytes((stack["certs"] / "ca.crt").read_bytes())
    host = f"127.0.0.1:{stack['registry']}"
    tls = ("--certs-dir", str(certs_d))
    alice = BerthClient(tmp_path, "alice")
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    (rootfs / "hello").write_text("hello\n")
    ref = f"{host}/alice/imported:1"
    alice.run("import", str(rootfs), ref)
    denied = alice.run("push", *tls, ref, check=False)
    assert denied.returncode != 0 and "login" in denied.stderr
    alice.run("login", *tls, host, "-u", "alice", "--password-stdin", input="alice-secret\n")
    config = (alice.docker_config / "config.json").read_text()
    assert "alice-secret" not in config and json.loads(config)["auths"][host].get("identitytoken")
    alice.run("push", *tls, ref)
    reader = BerthClient(tmp_path, "bob")
    reader.run("login", *tls, host, "-u", "bob", "--password-stdin", input="bob-secret\n")
    reader.run("pull", *tls, ref)
    reader.run("tag", ref, f"{host}/alice/by-bob:1")
    refused = reader.run("push", *tls, f"{host}/alice/by-bob:1", check=False)
    assert refused.returncode != 0 and "denied" in refused.stderr and "alice/by-bob" in refused.stderr


def test_bad_credentials_scopes_and_tokens_are_refused(stack):
    assert token(stack, "alice", "wrong").status_code == 401
    assert token(stack, "nobody", "whatever").status_code == 401
    assert token(stack, scopes=("repository::pull",)).status_code == 400
    assert token(stack, scopes=tuple(f"repository:r{i}:pull" for i in range(3000))).status_code in (400, 414, 431)
    assert requests.get(stack["realm"], params={"service": "other"}, verify=str(stack["certs"] / "ca.crt")).status_code == 400
    # A token for alice/app used on bob/app, and a tampered one.
    jwt = token(stack, "alice", "alice-secret", scopes=("repository:alice/app:pull",)).json()["token"]
    url = f"https://127.0.0.1:{stack['registry']}/v2/bob/app/tags/list"
    reply = requests.get(url, headers={"Authorization": f"Bearer {jwt}"}, verify=str(stack["certs"] / "ca.crt"))
    assert reply.status_code == 401 and 'error="insufficient_scope"' in reply.headers["WWW-Authenticate"]
    head, payload, signature = jwt.split(".")
    claims = claims_of(jwt)
    claims["access"] = [{"type": "repository", "name": "bob/app", "actions": ["pull"]}]
    forged = head + "." + base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=") + "." + signature
    reply = requests.get(url, headers={"Authorization": f"Bearer {forged}"}, verify=str(stack["certs"] / "ca.crt"))
    assert reply.status_code == 401 and 'error="invalid_token"' in reply.headers["WWW-Authenticate"]
    assert reply.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_repeated_failures_are_slowed_down_and_nothing_secret_is_logged(stack):
    statuses = [token(stack, "bob", f"guess-{i}").status_code for i in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429
    assert token(stack, "bob", "bob-secret").status_code == 429, "even the right password waits out the burst"
    logs = "".join((stack["tmp"] / f"{name}.log").read_text() for name in ("auth", "registry"))
    for secret in ("alice-secret", "bob-secret", "admin-secret", "guess-1", "eyJ"):
        assert secret not in logs


"""berth-auth and the token flow end to end, over TLS with certificates from certs-example:
skopeo login/copy against berth-registry and against Distribution 2.8.2, the ACL, refresh
tokens, and the attacks the token endpoint must refuse."""
import base64
import json

import pytest
import requests

from certs import make_certs
from images import make_busybox_oci_layout
from programs import BERTH_CLIENT, Berth, BerthAuth, free_port, is_executable
from registry_process import RegistryProcess, write_htpasswd
from skopeo_support import skopeo

AUTH_CONFIG = """
server:
  addr: 127.0.0.1:{port}
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
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    certs = make_certs(tmp / "certs")
    write_htpasswd(tmp / "users.htpasswd", {"alice": "alice-secret", "bob": "bob-secret", "admin": "admin-secret"})
    auth_port = free_port()
    realm = f"https://127.0.0.1:{auth_port}/token"
    registry_config = {"auth": {"token": {"realm": realm, "service": "berth-registry", "issuer": "berth-auth",
                                          "rootcertbundle": str(certs.token_cert)}}}
    tls = (certs.server_cert, certs.server_key)
    servers = {"auth": BerthAuth(tmp, AUTH_CONFIG.format(port=auth_port), port=auth_port, ca_cert=certs.ca),
               "registry": RegistryProcess(tmp / "registry", "berth", tls=tls, extra_config=registry_config),
               "dist": RegistryProcess(tmp / "dist", "distribution", tls=tls, extra_config=registry_config)}
    try:
        for server in servers.values():
            server.start()
        src = tmp / "src"
        digest = make_busybox_oci_layout(src).manifest_digest
        yield {"tmp": tmp, "certs": certs.dir, "trust": certs.trust, "realm": realm, "auth": auth_port,
               "registry": servers["registry"].port, "dist": servers["dist"].port, "src": src, "digest": digest,
               "servers": servers}
    finally:
        for server in servers.values():
            server.close()


def login(stack, host_port, user, password):
    authfile = stack["tmp"] / f"{user}-{host_port}.json"
    skopeo("login", "--cert-dir", str(stack["trust"]), "--authfile", str(authfile),
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
    skopeo("copy", "--authfile", str(authfile), "--dest-cert-dir", str(stack["trust"]), f"oci:{stack['src']}:latest", ref)
    out = stack["tmp"] / f"out-{target}"
    skopeo("copy", "--authfile", str(authfile), "--src-cert-dir", str(stack["trust"]), ref, f"oci:{out}:x")
    inspected = json.loads(skopeo("inspect", "--authfile", str(authfile), "--cert-dir", str(stack["trust"]), ref).stdout)
    assert inspected["Digest"] == stack["digest"]


def test_user_without_push_is_denied(stack):
    login(stack, stack["registry"], "alice", "alice-secret")
    skopeo("copy", "--authfile", str(stack["tmp"] / f"alice-{stack['registry']}.json"), "--dest-cert-dir",
           str(stack["trust"]), f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/alice/denied:1")
    bob = login(stack, stack["registry"], "bob", "bob-secret")
    result = skopeo("copy", "--authfile", str(bob), "--dest-cert-dir", str(stack["trust"]),
                    f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/alice/denied:2", check=False)
    assert result.returncode != 0
    assert "denied" in result.stderr or "insufficient_scope" in result.stderr or "unauthorized" in result.stderr
    tags = json.loads(skopeo("list-tags", "--authfile", str(bob), "--cert-dir", str(stack["trust"]),
                             f"docker://127.0.0.1:{stack['registry']}/alice/denied").stdout)
    assert tags["Tags"] == ["1"], "bob may pull but pushed nothing"


def test_anonymous_pull_of_public_only(stack):
    admin = login(stack, stack["registry"], "admin", "admin-secret")
    skopeo("copy", "--authfile", str(admin), "--dest-cert-dir", str(stack["trust"]),
           f"oci:{stack['src']}:latest", f"docker://127.0.0.1:{stack['registry']}/public/busybox:1")
    anonymous = stack["tmp"] / "anonymous.json"
    anonymous.write_text('{"auths": {}}')
    skopeo("inspect", "--authfile", str(anonymous), "--cert-dir", str(stack["trust"]),
           f"docker://127.0.0.1:{stack['registry']}/public/busybox:1")
    private = skopeo("inspect", "--authfile", str(anonymous), "--cert-dir", str(stack["trust"]),
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
    if not is_executable(BERTH_CLIENT):
        pytest.skip("berth client not built")
    certs_d = tmp_path / "certs.d"
    for port in (stack["registry"], stack["auth"]):
        (certs_d / f"127.0.0.1:{port}").mkdir(parents=True)
        (certs_d / f"127.0.0.1:{port}" / "ca.crt").write_bytes((stack["certs"] / "ca.crt").read_bytes())
    host = f"127.0.0.1:{stack['registry']}"
    tls = ("--certs-dir", str(certs_d))
    alice = Berth(tmp_path, "alice")
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
    reader = Berth(tmp_path, "bob")
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
    logs = "".join(stack["servers"][name].log_text() for name in ("auth", "registry"))
    for secret in ("alice-secret", "bob-secret", "admin-secret", "guess-1", "eyJ"):
        assert secret not in logs


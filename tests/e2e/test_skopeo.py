"""skopeo against the registry: plain HTTP, TLS with the example CA, htpasswd, mutual TLS,
inspect / list-tags / delete, Docker schema 2 and OCI formats, multi-platform indexes.

Every test runs against berth-registry and against CNCF Distribution 2.8.2 (param `distribution`),
which proves the test itself right; set E2E_REGISTRY=berth|distribution to run one of them only.
Images are built from local files (busybox-static) by images.make_busybox_oci_layout.
"""
import hashlib
import json
import os
import subprocess

import pytest

from certs import example_certs
from images import (DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_LIST, DOCKER_V2S2, OCI_INDEX, OCI_MANIFEST,
                    assert_same_blobs, dir_copy, layout_blobs_verified, layout_index, make_busybox_oci_layout,
                    make_multiarch_oci_layout, sha256_digest)
from registry_process import MutualTLSRegistry, RegistryProcess, implementation_available
from skopeo_support import skopeo, skopeo_fails

IMPLS = [os.environ["E2E_REGISTRY"]] if os.environ.get("E2E_REGISTRY") else ["berth", "distribution"]
PLAIN = "--dest-tls-verify=false"          # plain HTTP registry on loopback
PLAIN_SRC = "--src-tls-verify=false"
USER, PASSWORD = "alice", "correct horse battery"


# ----- fixtures

@pytest.fixture(scope="module", params=IMPLS)
def registry_impl(request):
    """Overrides conftest's: this module runs against both implementations."""
    ok, why = implementation_available(request.param)
    if not ok:
        pytest.skip(why)
    return request.param


_started = []


@pytest.fixture(autouse=True)
def _logs_on_failure(request):
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        callspec = getattr(request.node, "callspec", None)
        impl = callspec.params.get("registry_impl") if callspec else None
        for reg in _started:
            if reg.impl == impl and reg.is_running():
                print(f"\n{reg!r}\n{reg.log_tail(60)}")


def _serve(reg):
    reg.start()
    _started.append(reg)
    return reg


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return example_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory, registry_impl):
    reg = _serve(RegistryProcess(tmp_path_factory.mktemp(f"plain-{registry_impl}"), registry_impl))
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory, registry_impl, certs):
    reg = RegistryProcess(tmp_path_factory.mktemp(f"tls-{registry_impl}"), registry_impl,
                          tls=(certs.server_cert, certs.server_key))
    reg.ca_cert = certs.ca
    yield _serve(reg)
    reg.close()


@pytest.fixture(scope="module")
def htpasswd_registry(tmp_path_factory, registry_impl):
    work = tmp_path_factory.mktemp(f"htpasswd-{registry_impl}")
    # exactly as an operator would make it
    entry = subprocess_out(["htpasswd", "-Bbn", USER, PASSWORD])
    (work / "htpasswd").write_text(entry.strip() + "\n")
    reg = RegistryProcess(work, registry_impl, htpasswd=work / "htpasswd")
    reg.credentials = (USER, PASSWORD)
    yield _serve(reg)
    reg.close()


@pytest.fixture(scope="module")
def mtls_registry(tmp_path_factory, registry_impl, certs):
    reg = MutualTLSRegistry(tmp_path_factory.mktemp(f"mtls-{registry_impl}"), registry_impl, certs)
    yield _serve(reg)
    reg.close()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """busybox in an OCI layout, two layers (busybox + a file), tag latest."""
    return make_busybox_oci_layout(tmp_path_factory.mktemp("image") / "oci", tag="latest",
                                   extra_layers=[{"etc/motd": b"berth e2e via skopeo\n"}])


@pytest.fixture(scope="module")
def multiarch(tmp_path_factory):
    return make_multiarch_oci_layout(tmp_path_factory.mktemp("multiarch") / "oci", tag="multi")


def subprocess_out(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def src_ref(image):
    return f"oci:{image.layout_dir}:{image.tag}"


def push(reg, image, repo, tag="latest", *extra):
    """skopeo copy of the OCI layout into reg (plain HTTP); returns the digest skopeo reports."""
    digestfile = image.layout_dir.parent / f"digest-{repo.replace('/', '_')}-{tag}"
    skopeo("copy", "--quiet", PLAIN, "--digestfile", digestfile, *extra, src_ref(image), reg.ref(repo, tag))
    return digestfile.read_text().strip()


# ----- plain HTTP

def test_copy_in_and_out_keeps_every_blob_byte_for_byte(plain, image, tmp_path):
    digest = push(plain, image, "skopeo/roundtrip", "latest", "--preserve-digests")
    assert digest == image.manifest_digest

    out = tmp_path / "out"
    skopeo("copy", "--quiet", PLAIN_SRC, "--preserve-digests", plain.ref("skopeo/roundtrip", "latest"),
               f"oci:{out}:copied")
    assert_same_blobs(image.blobs, layout_blobs_verified(out))
    [entry] = layout_index(out)["manifests"]
    assert entry["digest"] == image.manifest_digest
    assert entry["mediaType"] == OCI_MANIFEST
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "copied"

    # The registry serves the same bytes under each digest, with the digest header.
    s = plain.session()
    for digest, data in image.blobs.items():
        kind = "manifests" if digest == image.manifest_digest else "blobs"
        r = s.get(f"{plain.url}/v2/skopeo/roundtrip/{kind}/{digest}", headers={"Accept": OCI_MANIFEST})
        assert r.status_code == 200, (digest, r.status_code, r.text)
        assert r.content == data
        assert r.headers["Docker-Content-Digest"] == digest


def test_copy_by_digest_and_between_repositories(plain, image, tmp_path):
    push(plain, image, "skopeo/origin", "v1")
    # registry -> registry by digest: skopeo mounts the layers it has seen in skopeo/origin
    # (POST /v2/skopeo/mirror/blobs/uploads/?mount=...&from=skopeo/origin -> 201); it knows where
    # they are from its blob-info cache (/var/lib/containers/cache for root), filled by the push above.
    res = skopeo("--debug", "copy", PLAIN_SRC, PLAIN, "--preserve-digests",
                     plain.ref("skopeo/origin", image.manifest_digest), plain.ref("skopeo/mirror", "v1"))
    assert "Trying to mount" in res.stderr and "mount OK" in res.stderr, res.stderr[-3000:]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/mirror", "v1")).stdout
    assert raw.encode() == image.manifest
    s = plain.session()
    for digest, data in image.blobs.items():
        if digest == image.manifest_digest:
            continue
        r = s.get(f"{plain.url}/v2/skopeo/mirror/blobs/{digest}")
        assert r.status_code == 200 and r.content == data


def test_inspect_raw_digest_config_and_summary(plain, image):
    push(plain, image, "skopeo/inspect", "1.0")
    ref = plain.ref("skopeo/inspect", "1.0")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    assert raw == image.manifest
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == image.manifest_digest

    config = skopeo("inspect", "--config", "--raw", "--tls-verify=false", ref).stdout.encode()
    assert config == image.config

    info = json.loads(skopeo("inspect", "--tls-verify=false", ref).stdout)
    assert info["Digest"] == image.manifest_digest
    assert info["Layers"] == [d for d, _, _ in image.layers]
    assert info["Os"] == "linux"
    assert info["Architecture"] == json.loads(image.config)["architecture"]
    assert "1.0" in info["RepoTags"]

    # by digest too
    by_digest = skopeo("inspect", "--raw", "--tls-verify=false",
                           plain.ref("skopeo/inspect", image.manifest_digest)).stdout.encode()
    assert by_digest == image.manifest

    missing = skopeo_fails("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/inspect", "no-such-tag"))
    assert "manifest unknown" in missing or "not found" in missing


def test_list_tags(plain, image):
    tags = ["1.0", "1.1", "latest", "v2-rc.1"]
    push(plain, image, "skopeo/tags", tags[0])
    for tag in tags[1:]:
        skopeo("copy", "--quiet", PLAIN_SRC, PLAIN, plain.ref("skopeo/tags", tags[0]),
                   plain.ref("skopeo/tags", tag))
    listed = json.loads(skopeo("list-tags", "--tls-verify=false",
                                   f"docker://{plain.host}/skopeo/tags").stdout)
    assert listed["Repository"] == f"{plain.host}/skopeo/tags"
    assert sorted(listed["Tags"]) == sorted(tags)

    err = skopeo_fails("list-tags", "--tls-verify=false", f"docker://{plain.host}/skopeo/never-pushed")
    assert "404" in err or "name unknown" in err or "not found" in err


def test_sync_a_repository_to_a_directory_and_back(plain, image, tmp_path):
    """skopeo sync lists the tags and copies each image (docker -> dir -> docker)."""
    tags = ["a", "b", "c"]
    push(plain, image, "skopeo/sync-src", tags[0])
    for tag in tags[1:]:
        skopeo("copy", "--quiet", PLAIN_SRC, PLAIN, plain.ref("skopeo/sync-src", tags[0]),
                   plain.ref("skopeo/sync-src", tag))
    out = tmp_path / "sync"
    out.mkdir()
    skopeo("sync", "--src", "docker", "--dest", "dir", "--src-tls-verify=false", "--preserve-digests",
               f"{plain.host}/skopeo/sync-src", out)
    synced = sorted(p.name for p in out.rglob("*") if p.is_dir() and (p / "manifest.json").exists())
    assert synced == [f"sync-src:{t}" for t in tags]
    for tag in tags:
        [d] = [p for p in out.rglob(f"sync-src:{tag}")]
        manifest, blobs = dir_copy(d)
        assert manifest == image.manifest
        assert_same_blobs({k: v for k, v in image.blobs.items() if k != image.manifest_digest}, blobs)

    # and back into another repository of the registry
    skopeo("sync", "--src", "dir", "--dest", "docker", "--dest-tls-verify=false", "--preserve-digests",
               next(out.rglob("sync-src:b")), f"{plain.host}/skopeo/sync-dst")
    # the directory's name becomes repository:tag under the destination
    listed = json.loads(skopeo("list-tags", "--tls-verify=false",
                                   f"docker://{plain.host}/skopeo/sync-dst/sync-src").stdout)
    assert listed["Tags"] == ["b"]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/sync-dst/sync-src", "b")).stdout
    assert raw.encode() == image.manifest
    catalog = plain.session().get(f"{plain.url}/v2/_catalog").json()["repositories"]
    assert {"skopeo/sync-src", "skopeo/sync-dst/sync-src"} <= set(catalog)


def test_delete_removes_the_manifest_and_its_tags(plain, image):
    push(plain, image, "skopeo/delete", "a")
    skopeo("copy", "--quiet", PLAIN_SRC, PLAIN, plain.ref("skopeo/delete", "a"), plain.ref("skopeo/delete", "b"))
    skopeo("delete", "--tls-verify=false", plain.ref("skopeo/delete", "a"))

    # The manifest is gone by digest and under both tags (Distribution deletes by digest).
    for ref in ("a", "b", image.manifest_digest):
        err = skopeo_fails("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/delete", ref))
        assert "manifest unknown" in err or "not found" in err, err
    r = plain.session().get(f"{plain.url}/v2/skopeo/delete/manifests/{image.manifest_digest}",
                            headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 404
    listed = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{plain.host}/skopeo/delete").stdout)
    assert not listed["Tags"]

    # Deleting again reports it unknown; pushing again works.
    skopeo_fails("delete", "--tls-verify=false", plain.ref("skopeo/delete", image.manifest_digest))
    assert push(plain, image, "skopeo/delete", "a") == image.manifest_digest


def test_delete_refused_when_disabled(make_registry, image):
    reg = make_registry(delete_enabled=False)
    push(reg, image, "skopeo/keep", "1")
    err = skopeo_fails("delete", "--tls-verify=false", reg.ref("skopeo/keep", "1"))
    assert "405" in err or "unsupported" in err or "not allowed" in err, err
    raw = skopeo("inspect", "--raw", "--tls-verify=false", reg.ref("skopeo/keep", "1")).stdout.encode()
    assert raw == image.manifest


# ----- formats

def test_copy_as_docker_schema2_and_back_to_oci(plain, image, tmp_path):
    skopeo("copy", "--quiet", PLAIN, "--format", "v2s2", src_ref(image), plain.ref("skopeo/v2s2", "1"))
    ref = plain.ref("skopeo/v2s2", "1")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    manifest = json.loads(raw)
    assert manifest["schemaVersion"] == 2
    assert manifest["mediaType"] == DOCKER_V2S2
    assert manifest["config"]["mediaType"] == DOCKER_CONFIG
    assert [l["mediaType"] for l in manifest["layers"]] == [DOCKER_LAYER_GZIP] * len(image.layers)
    # layers are not recompressed: the same blobs under the same digests
    assert [l["digest"] for l in manifest["layers"]] == [d for d, _, _ in image.layers]
    digest = sha256_digest(raw)

    # The registry returns it with its own media type and digest.
    r = plain.session().get(f"{plain.url}/v2/skopeo/v2s2/manifests/1", headers={"Accept": DOCKER_V2S2})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == DOCKER_V2S2
    assert r.headers["Docker-Content-Digest"] == digest
    assert r.content == raw

    # dir: keeps the manifest as stored: byte-identical manifest and blobs.
    out = tmp_path / "dir"
    skopeo("copy", "--quiet", PLAIN_SRC, ref, f"dir:{out}")
    dir_manifest, blobs = dir_copy(out)
    assert dir_manifest == raw
    for d, gz, _ in image.layers:
        assert blobs[d] == gz
    assert blobs[manifest["config"]["digest"]] == plain.session().get(
        f"{plain.url}/v2/skopeo/v2s2/blobs/{manifest['config']['digest']}").content

    # Docker schema 2 -> OCI inside the registry.
    skopeo("copy", "--quiet", PLAIN_SRC, PLAIN, "--format", "oci", ref, plain.ref("skopeo/oci", "1"))
    oci = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/oci", "1")).stdout)
    assert oci["mediaType"] == OCI_MANIFEST
    assert [l["digest"] for l in oci["layers"]] == [d for d, _, _ in image.layers]
    assert all(l["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip" for l in oci["layers"])


def test_copy_with_format_oci_keeps_the_oci_manifest(plain, image):
    digest = push(plain, image, "skopeo/oci-format", "1", "--format", "oci")
    assert digest == image.manifest_digest
    r = plain.session().get(f"{plain.url}/v2/skopeo/oci-format/manifests/1", headers={"Accept": OCI_MANIFEST})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == OCI_MANIFEST
    assert r.content == image.manifest


# ----- multi-platform index

def test_copy_all_of_a_multi_platform_index(plain, multiarch, tmp_path):
    skopeo("copy", "--quiet", "--all", "--preserve-digests", PLAIN,
               f"oci:{multiarch.layout_dir}:{multiarch.tag}", plain.ref("skopeo/multi", "1"))
    ref = plain.ref("skopeo/multi", "1")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    assert raw == multiarch.index
    assert sha256_digest(raw) == multiarch.index_digest

    s = plain.session()
    r = s.get(f"{plain.url}/v2/skopeo/multi/manifests/1", headers={"Accept": OCI_INDEX})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == OCI_INDEX
    assert r.headers["Docker-Content-Digest"] == multiarch.index_digest
    for platform, (digest, manifest) in multiarch.platforms.items():
        child = skopeo("inspect", "--raw", "--tls-verify=false", plain.ref("skopeo/multi", digest)).stdout
        assert child.encode() == manifest, platform

    # Each platform resolves through the index (inspect's Digest is the index's own).
    for platform, (digest, manifest) in multiarch.platforms.items():
        os_, arch = platform.split("/")
        info = json.loads(skopeo("--override-os", os_, "--override-arch", arch,
                                     "inspect", "--tls-verify=false", ref).stdout)
        assert info["Digest"] == multiarch.index_digest, platform
        assert info["Architecture"] == arch
        assert info["Layers"] == [l["digest"] for l in json.loads(manifest)["layers"]], platform

    # Everything back out: the same index, manifests, configs and layers.
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--all", "--preserve-digests", PLAIN_SRC, ref, f"oci:{out}:multi")
    assert_same_blobs(multiarch.blobs, layout_blobs_verified(out))
    [entry] = layout_index(out)["manifests"]
    assert entry["digest"] == multiarch.index_digest
    assert entry["mediaType"] == OCI_INDEX

    # Without --all, one platform is picked from the index.
    other_platform, (other_digest, other_manifest) = list(multiarch.platforms.items())[1]  # not the host's
    one = tmp_path / "one"
    skopeo("--override-arch", other_platform.split("/")[1], "copy", "--quiet", PLAIN_SRC, ref, f"dir:{one}")
    manifest, blobs = dir_copy(one)
    assert manifest == other_manifest
    for layer in json.loads(other_manifest)["layers"]:
        assert blobs[layer["digest"]] == multiarch.blobs[layer["digest"]]


def test_copy_all_as_a_docker_manifest_list(plain, multiarch):
    """--all --format v2s2 turns the OCI index into a Docker manifest list of schema 2 images."""
    skopeo("copy", "--quiet", "--all", "--format", "v2s2", PLAIN,
               f"oci:{multiarch.layout_dir}:{multiarch.tag}", plain.ref("skopeo/list", "1"))
    ref = plain.ref("skopeo/list", "1")
    raw = skopeo("inspect", "--raw", "--tls-verify=false", ref).stdout.encode()
    listed = json.loads(raw)
    assert listed["mediaType"] == DOCKER_LIST
    assert [m["mediaType"] for m in listed["manifests"]] == [DOCKER_V2S2, DOCKER_V2S2]
    assert sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in listed["manifests"]) == \
        sorted(multiarch.platforms)

    s = plain.session()
    r = s.get(f"{plain.url}/v2/skopeo/list/manifests/1", headers={"Accept": DOCKER_LIST})
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0] == DOCKER_LIST
    assert r.headers["Docker-Content-Digest"] == sha256_digest(raw)
    assert r.content == raw
    for entry in listed["manifests"]:
        r = s.get(f"{plain.url}/v2/skopeo/list/manifests/{entry['digest']}", headers={"Accept": DOCKER_V2S2})
        assert r.status_code == 200
        assert r.headers["Content-Type"].split(";")[0] == DOCKER_V2S2
        assert sha256_digest(r.content) == entry["digest"] and len(r.content) == entry["size"]
        child = json.loads(r.content)
        for layer in child["layers"]:   # same compressed layers as the OCI source
            assert layer["mediaType"] == DOCKER_LAYER_GZIP
            blob = s.get(f"{plain.url}/v2/skopeo/list/blobs/{layer['digest']}")
            assert blob.status_code == 200 and blob.content == multiarch.blobs[layer["digest"]]
        arch = entry["platform"]["architecture"]
        info = json.loads(skopeo("--override-arch", arch, "inspect", "--tls-verify=false", ref).stdout)
        assert info["Architecture"] == arch
        assert info["Layers"] == [l["digest"] for l in child["layers"]]


# ----- TLS with the example CA

def test_tls_copy_in_and_out_with_the_example_ca(tls_registry, certs, image, tmp_path):
    reg = tls_registry
    assert reg.url.startswith("https://")
    skopeo("copy", "--quiet", "--dest-cert-dir", certs.trust, "--preserve-digests", src_ref(image),
               reg.ref("skopeo/tls", "1"))
    info = json.loads(skopeo("inspect", "--cert-dir", certs.trust, reg.ref("skopeo/tls", "1")).stdout)
    assert info["Digest"] == image.manifest_digest
    tags = json.loads(skopeo("list-tags", "--cert-dir", certs.trust, f"docker://{reg.host}/skopeo/tls").stdout)
    assert tags["Tags"] == ["1"]

    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-cert-dir", certs.trust, reg.ref("skopeo/tls", "1"), f"oci:{out}:1")
    assert_same_blobs(image.blobs, layout_blobs_verified(out))

    # localhost is in the certificate too
    raw = skopeo("inspect", "--raw", "--cert-dir", certs.trust,
                     f"docker://localhost:{reg.port}/skopeo/tls:1").stdout.encode()
    assert raw == image.manifest

    # the session pins the example CA: plain requests verify it as well
    r = reg.session().get(f"https://localhost:{reg.port}/v2/")
    assert r.status_code == 200


def test_tls_refuses_clients_that_do_not_trust_the_ca(tls_registry, certs, image):
    reg = tls_registry
    err = skopeo_fails("copy", "--quiet", src_ref(image), reg.ref("skopeo/untrusted", "1"))
    assert "x509" in err or "certificate" in err, err
    err = skopeo_fails("copy", "--quiet", "--dest-cert-dir", certs.foreign_trust, src_ref(image),
                       reg.ref("skopeo/untrusted", "1"))
    assert "x509" in err or "certificate" in err, err
    # the TLS port does not answer the API in plain HTTP
    import requests
    try:
        r = requests.get(f"http://{reg.host}/v2/", timeout=10)
        assert r.status_code != 200, "plain HTTP served on the TLS port"
    except requests.exceptions.ConnectionError:
        pass
    assert reg.session().get(f"{reg.url}/v2/").status_code == 200


@pytest.fixture(scope="module")
def tls_htpasswd_registry(tmp_path_factory, registry_impl, certs):
    reg = RegistryProcess(tmp_path_factory.mktemp(f"tls-htpasswd-{registry_impl}"), registry_impl,
                          tls=(certs.server_cert, certs.server_key), htpasswd={USER: PASSWORD})
    reg.ca_cert = certs.ca
    yield _serve(reg)
    reg.close()


def test_tls_with_htpasswd_and_a_big_layer(tls_htpasswd_registry, certs, tmp_path):
    """The production shape: HTTPS + Basic auth, with a 24 MiB incompressible layer."""
    reg = tls_htpasswd_registry
    big = make_busybox_oci_layout(tmp_path / "big", tag="big",
                                  extra_layers=[{"data/random.bin": os.urandom(24 * 1024 * 1024)}])
    creds = f"{USER}:{PASSWORD}"
    skopeo("copy", "--quiet", "--dest-cert-dir", certs.trust, "--dest-creds", creds, "--preserve-digests",
               f"oci:{big.layout_dir}:big", reg.ref("skopeo/big", "1"))
    err = skopeo_fails("inspect", "--raw", "--cert-dir", certs.trust, "--creds", f"{USER}:nope",
                       reg.ref("skopeo/big", "1"))
    assert "401" in err or "unauthorized" in err or "authentication required" in err, err
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-cert-dir", certs.trust, "--src-creds", creds, reg.ref("skopeo/big", "1"),
               f"oci:{out}:big")
    assert_same_blobs(big.blobs, layout_blobs_verified(out))


# ----- htpasswd

def test_htpasswd_copy_with_credentials(htpasswd_registry, image, tmp_path):
    reg = htpasswd_registry
    creds = f"{USER}:{PASSWORD}"
    skopeo("copy", "--quiet", PLAIN, "--dest-creds", creds, "--preserve-digests", src_ref(image),
               reg.ref("skopeo/private", "1"))
    info = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds,
                                 reg.ref("skopeo/private", "1")).stdout)
    assert info["Digest"] == image.manifest_digest
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", "--creds", creds,
                                 f"docker://{reg.host}/skopeo/private").stdout)
    assert tags["Tags"] == ["1"]
    out = tmp_path / "out"
    skopeo("copy", "--quiet", PLAIN_SRC, "--src-creds", creds, reg.ref("skopeo/private", "1"), f"oci:{out}:1")
    assert_same_blobs(image.blobs, layout_blobs_verified(out))
    # separate --dest-username/--dest-password work too
    skopeo("copy", "--quiet", PLAIN, "--dest-username", USER, "--dest-password", PASSWORD, src_ref(image),
               reg.ref("skopeo/private", "2"))


def test_htpasswd_refuses_a_wrong_password_and_anonymous_access(htpasswd_registry, image):
    reg = htpasswd_registry
    err = skopeo_fails("copy", "--quiet", PLAIN, "--dest-creds", f"{USER}:wrong-password", src_ref(image),
                       reg.ref("skopeo/refused", "1"))
    assert "401" in err or "unauthorized" in err or "authentication required" in err, err
    err = skopeo_fails("copy", "--quiet", PLAIN, "--dest-creds", f"mallory:{PASSWORD}", src_ref(image),
                       reg.ref("skopeo/refused", "1"))
    assert "401" in err or "unauthorized" in err or "authentication required" in err, err
    err = skopeo_fails("copy", "--quiet", PLAIN, src_ref(image), reg.ref("skopeo/refused", "1"))
    assert "401" in err or "unauthorized" in err or "authentication required" in err, err
    err = skopeo_fails("inspect", "--raw", "--tls-verify=false", "--creds", f"{USER}:wrong-password",
                       reg.ref("skopeo/refused", "1"))
    assert "401" in err or "unauthorized" in err or "authentication required" in err, err

    # Nothing was stored by the refused pushes.
    err = skopeo_fails("inspect", "--raw", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}",
                       reg.ref("skopeo/refused", "1"))
    assert "manifest unknown" in err or "not found" in err or "name unknown" in err, err

    # The challenge as Distribution sends it.
    import requests
    r = requests.get(f"{reg.url}/v2/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert requests.get(f"{reg.url}/v2/", auth=(USER, "wrong-password")).status_code == 401
    assert requests.get(f"{reg.url}/v2/", auth=(USER, PASSWORD)).status_code == 200


# ----- mutual TLS

def test_mtls_copy_with_a_client_certificate(mtls_registry, certs, image, tmp_path):
    reg = mtls_registry
    skopeo("copy", "--quiet", "--dest-cert-dir", certs.trust_mtls, "--preserve-digests", src_ref(image),
               reg.ref("skopeo/mtls", "1"))
    raw = skopeo("inspect", "--raw", "--cert-dir", certs.trust_mtls, reg.ref("skopeo/mtls", "1")).stdout
    assert raw.encode() == image.manifest
    out = tmp_path / "out"
    skopeo("copy", "--quiet", "--src-cert-dir", certs.trust_mtls, reg.ref("skopeo/mtls", "1"), f"oci:{out}:1")
    assert_same_blobs(image.blobs, layout_blobs_verified(out))
    assert reg.session().get(f"{reg.url}/v2/").status_code == 200


def test_mtls_refuses_clients_without_a_trusted_certificate(mtls_registry, certs, image):
    reg = mtls_registry
    # The handshake fails; with TLS 1.3 the client may only see the connection torn down.
    handshake_failed = ("certificate", "tls", "connection reset", "broken pipe", "eof")
    # CA trusted, but no client certificate
    err = skopeo_fails("copy", "--quiet", "--dest-cert-dir", certs.trust, src_ref(image), reg.ref("skopeo/mtls-no", "1"))
    assert any(s in err for s in handshake_failed), err
    # a client certificate from another CA
    err = skopeo_fails("copy", "--quiet", "--dest-cert-dir", certs.foreign_client, src_ref(image),
                       reg.ref("skopeo/mtls-no", "1"))
    assert any(s in err for s in handshake_failed), err
    # nothing got in
    err = skopeo_fails("inspect", "--raw", "--cert-dir", certs.trust_mtls, reg.ref("skopeo/mtls-no", "1"))
    assert "manifest unknown" in err or "not found" in err or "name unknown" in err, err

    import requests
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        s = requests.Session()
        s.trust_env = False
        s.verify = str(certs.ca)
        s.get(f"{reg.url}/v2/", timeout=10)
    assert reg.session().get(f"{reg.url}/v2/").status_code == 200   # still serving clients with a cert

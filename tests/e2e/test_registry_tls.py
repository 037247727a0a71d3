"""berth-registry over TLS and mutual TLS, with certificates from certs-example/make-certs.sh."""
import json
import ssl
import subprocess
import time
import urllib.request

import pytest

from test_registry_smoke import BERTH, REPO, busybox_layout, free_port, skopeo, stop


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    out = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "certs-example" / "make-certs.sh"), str(out)], check=True, capture_output=True)
    # skopeo's --*-cert-dir wants ca.crt, and client.cert/client.key for mutual TLS, as Docker's certs.d.
    trust = out / "trust"
    trust.mkdir(exist_ok=True)
    (trust / "ca.crt").write_bytes((out / "ca.crt").read_bytes())
    mutual = out / "mutual"
    mutual.mkdir(exist_ok=True)
    (mutual / "ca.crt").write_bytes((out / "ca.crt").read_bytes())
    (mutual / "client.cert").write_bytes((out / "client.crt").read_bytes())
    (mutual / "client.key").write_bytes((out / "client.key").read_bytes())
    return out


def serve_tls(tmp, certs, clientcas=False, minimum=None):
    port = free_port()
    tls = f"    certificate: {certs / 'server.crt'}\n    key: {certs / 'server.key'}\n"
    if clientcas:
        tls += f"    clientcas: [{certs / 'ca.crt'}]\n"
    if minimum:
        tls += f"    minimumtls: {minimum}\n"
    (tmp / "config.yml").write_text(
        f"version: 0.1\nstorage: {{filesystem: {{rootdirectory: {tmp / 'root'}}}}}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n  tls:\n{tls}")
    log = tmp / "server.log"
    proc = subprocess.Popen([str(BERTH), "serve", str(tmp / "config.yml")], stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()
        if "listening" in log.read_text():
            return proc, port
        time.sleep(0.1)
    raise RuntimeError("no listening line: " + log.read_text())


def test_tls_push_and_pull_with_the_example_ca(tmp_path, certs):
    proc, port = serve_tls(tmp_path, certs)
    try:
        src = tmp_path / "src"
        digest = busybox_layout(src)
        ref = f"docker://localhost:{port}/secure/busybox:1"
        skopeo("copy", "--dest-cert-dir", str(certs / "trust"), f"oci:{src}:latest", ref)
        assert json.loads(skopeo("inspect", "--cert-dir", str(certs / "trust"), ref))["Digest"] == digest
        # Without trusting the CA, a client refuses the server.
        untrusted = subprocess.run(["skopeo", "inspect", ref], capture_output=True, text=True)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
    finally:
        stop(proc)


def test_tls_refuses_versions_below_1_2(tmp_path, certs):
    proc, port = serve_tls(tmp_path, certs, minimum="tls1.0")  # raised to 1.2 with a warning
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(str(certs / "ca.crt"))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with urllib.request.urlopen(f"https://localhost:{port}/v2/", context=context) as r:
            assert r.status == 200
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(str(certs / "ca.crt"))
        with pytest.warns(DeprecationWarning):
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            old.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with pytest.raises((ssl.SSLError, OSError)):
            urllib.request.urlopen(f"https://localhost:{port}/v2/", context=old, timeout=5)
    finally:
        stop(proc)


def test_mutual_tls_requires_a_client_certificate(tmp_path, certs):
    proc, port = serve_tls(tmp_path, certs, clientcas=True)
    try:
        src = tmp_path / "src"
        busybox_layout(src)
        ref = f"docker://localhost:{port}/mtls/busybox:1"
        refused = subprocess.run(["skopeo", "copy", "--dest-cert-dir", str(certs / "trust"), f"oci:{src}:latest", ref],
                                 capture_output=True, text=True)
        assert refused.returncode != 0
        skopeo("copy", "--dest-cert-dir", str(certs / "mutual"), f"oci:{src}:latest", ref)
        tags = json.loads(skopeo("list-tags", "--cert-dir", str(certs / "mutual"), f"docker://localhost:{port}/mtls/busybox"))
        assert tags["Tags"] == ["1"]
    finally:
        stop(proc)

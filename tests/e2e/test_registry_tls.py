"""berth-registry over TLS and mutual TLS, with certificates from certs-example/make-certs.sh."""
import json
import ssl
import urllib.request

import pytest

from certs import make_certs
from images import make_busybox_oci_layout
from registry_process import RegistryProcess
from skopeo_support import skopeo


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    # skopeo's --*-cert-dir wants ca.crt, and client.cert/client.key for mutual TLS, as Docker's
    # certs.d: make-certs.sh writes both as trust/ and trust-mtls/.
    return make_certs(tmp_path_factory.mktemp("certs"))


def serve_tls(tmp, certs, clientcas=False, minimum=None) -> RegistryProcess:
    tls = {}
    if clientcas:
        tls["clientcas"] = [str(certs.ca)]
    if minimum:
        tls["minimumtls"] = minimum
    return RegistryProcess(tmp / "registry", "berth", tls=(certs.server_cert, certs.server_key),
                           extra_config={"http": {"tls": tls}}, hostname="localhost",
                           client_cert=(certs.client_cert, certs.client_key) if clientcas else None).start()


def test_tls_push_and_pull_with_the_example_ca(tmp_path, certs):
    with serve_tls(tmp_path, certs) as reg:
        src = tmp_path / "src"
        digest = make_busybox_oci_layout(src).manifest_digest
        ref = reg.ref("secure/busybox", "1")
        skopeo("copy", "--dest-cert-dir", certs.trust, f"oci:{src}:latest", ref)
        assert json.loads(skopeo("inspect", "--cert-dir", certs.trust, ref).stdout)["Digest"] == digest
        # Without trusting the CA, a client refuses the server.
        untrusted = skopeo("inspect", ref, check=False)
        assert untrusted.returncode != 0 and "certificate" in untrusted.stderr


def test_tls_refuses_versions_below_1_2(tmp_path, certs):
    with serve_tls(tmp_path, certs, minimum="tls1.0") as reg:  # raised to 1.2 with a warning
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(str(certs.ca))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with urllib.request.urlopen(f"{reg.url}/v2/", context=context) as r:
            assert r.status == 200
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(str(certs.ca))
        with pytest.warns(DeprecationWarning):
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            old.set_ciphers("ALL:@SECLEVEL=0")
        except ssl.SSLError:
            pass
        with pytest.raises((ssl.SSLError, OSError)):
            urllib.request.urlopen(f"{reg.url}/v2/", context=old, timeout=5)


def test_mutual_tls_requires_a_client_certificate(tmp_path, certs):
    with serve_tls(tmp_path, certs, clientcas=True) as reg:
        src = tmp_path / "src"
        make_busybox_oci_layout(src)
        ref = reg.ref("mtls/busybox", "1")
        refused = skopeo("copy", "--dest-cert-dir", certs.trust, f"oci:{src}:latest", ref, check=False)
        assert refused.returncode != 0
        skopeo("copy", "--dest-cert-dir", certs.trust_mtls, f"oci:{src}:latest", ref)
        tags = json.loads(skopeo("list-tags", "--cert-dir", certs.trust_mtls, f"docker://{reg.host}/mtls/busybox").stdout)
        assert tags["Tags"] == ["1"]

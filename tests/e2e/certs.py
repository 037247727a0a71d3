"""TLS material for the end-to-end tests, always from the project's own certs-example/make-certs.sh
(a CA, server and client certificates, a token-signing pair, and Docker certs.d-style trust
directories), so the tests use what an operator would.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MAKE_CERTS = Path(__file__).resolve().parents[2] / "certs-example" / "make-certs.sh"


@dataclass
class Certs:
    dir: Path            # make-certs.sh OUTDIR
    ca: Path
    server_cert: Path    # for localhost, 127.0.0.1, ::1 and the hosts asked for
    server_key: Path
    client_cert: Path
    client_key: Path
    token_cert: Path     # berth-auth token signing (ES256); registries' auth.token.rootcertbundle
    token_key: Path
    trust: Path          # cert dir: ca.crt only
    trust_mtls: Path     # cert dir: ca.crt + client.cert + client.key
    foreign_trust: Path | None = None   # cert dir: a CA that did not sign the server certificate
    foreign_client: Path | None = None  # cert dir: the right CA + a client pair signed by a foreign CA


def make_certs(dest, *hosts: str) -> Certs:
    """Run make-certs.sh into dest; `hosts` are added to the server certificate's names."""
    dest = Path(dest)
    subprocess.run(["bash", str(MAKE_CERTS), str(dest), *hosts], check=True, capture_output=True, text=True)
    return Certs(dest, dest / "ca.crt", dest / "server.crt", dest / "server.key", dest / "client.crt",
                 dest / "client.key", dest / "token.crt", dest / "token.key", dest / "trust", dest / "trust-mtls")


def example_certs(dest) -> Certs:
    """make_certs into dest/example, plus a second, foreign CA (dest/foreign) for refusals."""
    dest = Path(dest)
    certs, foreign = make_certs(dest / "example"), make_certs(dest / "foreign")
    foreign_client = dest / "foreign-client"
    foreign_client.mkdir(exist_ok=True)
    shutil.copy(certs.ca, foreign_client / "ca.crt")
    shutil.copy(foreign.client_cert, foreign_client / "client.cert")
    shutil.copy(foreign.client_key, foreign_client / "client.key")
    certs.foreign_trust, certs.foreign_client = foreign.trust, foreign_client
    return certs

"""The user pool's public host, `https://cognito-idp.{region}.amazonaws.com`, for the functions' own code.

A function that verifies tokens itself fetches the pool's keys (and its OpenID configuration) from
AWS's host, by the issuer's URL. Offline that fails; pointed at the local port it would need its code
changed. So the local cloud serves those documents over TLS on a port of its own, with a certificate
for AWS's host name signed by a certificate authority made at start-up, and each execution
environment resolves that one host name to that port and trusts that authority besides the usual
ones (sam_local_cloud/lambda_/worker.py, `route_public_hosts`): `urllib`, `requests`, `httpx` and PyJWT's
`PyJWKClient` then reach it unchanged, with the certificate checked as usual. Nothing else leaves the
machine, and nothing outside the execution environments is redirected.
"""

from __future__ import annotations

import datetime
import json
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from sam_local_cloud.http_server import Server

# The execution environment's variable that names the hosts it resolves to the local cloud
# (`host=127.0.0.1:port,...`); read and removed by the worker before the function's code runs.
HOSTS_VARIABLE = "_LOCAL_CLOUD_HOSTS"


def public_host(region: str) -> str:
    return f"cognito-idp.{region}.amazonaws.com"


class PublicHost:
    """The TLS port that answers for AWS's Cognito host: the pool's keys and OpenID configuration."""

    def __init__(self, region: str, host: str = "127.0.0.1"):
        self.name = public_host(region)
        self._documents: dict[str, str] = {}  # path -> JSON, set once the pool exists
        self._folder = Path(tempfile.mkdtemp(prefix="local-cloud-tls-"))
        authority, certificate, key = _certificates(self.name)
        (self._folder / "server.pem").write_bytes(certificate + key)
        # What the functions trust: the usual authorities, and the one that signed the host's certificate.
        self.trusted = self._folder / "trusted.pem"
        self.trusted.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + authority)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._folder / "server.pem")
        self.server = Server(host, 0, self._app)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host!s}:{port}"

    def environment(self) -> dict[str, str]:
        """What an execution environment needs to reach this port as AWS's host, and to trust it."""
        trusted = str(self.trusted)
        return {
            HOSTS_VARIABLE: f"{self.name}={self.address}",
            "SSL_CERT_FILE": trusted,  # urllib, http.client, httpx
            "REQUESTS_CA_BUNDLE": trusted,  # requests
        }

    def serve(self, pool_id: str, jwks: dict[str, Any], openid_configuration: dict[str, Any]) -> None:
        self._documents = {
            f"/{pool_id}/.well-known/jwks.json": json.dumps(jwks),
            f"/{pool_id}/.well-known/openid-configuration": json.dumps(openid_configuration),
        }
        self._thread = threading.Thread(target=self.server.serve_forever, name="cognito-public", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        document = self._documents.get(request.path) if request.method in ("GET", "HEAD") else None
        if document is None:
            response = Response('{"message":"Not Found"}', status=404, mimetype="application/json")
        else:
            response = Response(document, mimetype="application/json")
        return response(environ, start_response)


def _certificates(name: str) -> tuple[bytes, bytes, bytes]:
    """A certificate authority (PEM), and a certificate for `name` it signed with its key (PEM, PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=365))
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "product-api local cloud")])
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(authority_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )
    return (
        authority.public_bytes(serialization.Encoding.PEM),
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )

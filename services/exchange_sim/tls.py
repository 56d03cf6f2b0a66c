"""Run credentials: a throwaway CA, a loopback server certificate and a CDP-shaped ES256 API key."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Credentials:
    """Paths and key material a client needs to talk to this run of the simulator."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    api_key_path: Path
    key_name: str
    private_key_pem: str
    public_key: ec.EllipticCurvePublicKey

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS context serving the generated certificate."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_path, self.key_path)
        return ctx

    def client_ssl_context(self) -> ssl.SSLContext:
        """TLS context that trusts only this run's CA (for aiohttp clients in tests)."""
        return ssl.create_default_context(cafile=str(self.ca_path))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(["localhost", "127.0.0.1", *names]):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def generate(run_dir: Path, extra_names: list[str] | None = None) -> Credentials:
    """Create the CA, a server cert for 127.0.0.1/localhost (plus `extra_names`) and an API key;
    write them to `run_dir`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("algopioneer exchange_sim CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    san = _san(extra_names or [])
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = run_dir / "ca.pem", run_dir / "server.pem", run_dir / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_pem_key(server_key, serialization.PrivateFormat.TraditionalOpenSSL))
    key_path.chmod(0o600)

    api_key = ec.generate_private_key(ec.SECP256R1())
    key_name = f"organizations/{uuid.uuid4()}/apiKeys/{uuid.uuid4()}"
    private_pem = _pem_key(api_key, serialization.PrivateFormat.TraditionalOpenSSL).decode()
    api_key_path = run_dir / "cdp_api_key.json"
    api_key_path.write_text(json.dumps({"name": key_name, "privateKey": private_pem}, indent=2))
    api_key_path.chmod(0o600)
    return Credentials(
        ca_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        api_key_path=api_key_path,
        key_name=key_name,
        private_key_pem=private_pem,
        public_key=api_key.public_key(),
    )


def load_or_generate(run_dir: Path, extra_names: list[str] | None = None) -> Credentials:
    """Reuse the run directory's CA, server certificate and API key when they are there, valid for
    another day and cover `extra_names`; otherwise generate new ones. A simulator restarted by a
    supervisor keeps its identity, as a real venue does: clients' CA file and API key stay valid."""
    ca_path, cert_path, key_path = run_dir / "ca.pem", run_dir / "server.pem", run_dir / "server.key"
    api_key_path = run_dir / "cdp_api_key.json"
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        x509.load_pem_x509_certificate(ca_path.read_bytes())
        serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        api = json.loads(api_key_path.read_text())
        api_key = serialization.load_pem_private_key(api["privateKey"].encode(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        covered = {str(n) for n in names.get_values_for_type(x509.DNSName)}
        covered |= {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    except (OSError, ValueError, KeyError, TypeError, x509.ExtensionNotFound):
        return generate(run_dir, extra_names)
    fresh = cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    if (
        not fresh
        or not set(extra_names or []) <= covered
        or not isinstance(api_key, ec.EllipticCurvePrivateKey)
    ):
        return generate(run_dir, extra_names)
    return Credentials(
        ca_path=ca_path,
        cert_path=cert_path,
        key_path=key_path,
        api_key_path=api_key_path,
        key_name=api["name"],
        private_key_pem=api["privateKey"],
        public_key=api_key.public_key(),
    )

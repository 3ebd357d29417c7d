"""A canary certificate (a real, freshly made self-signed CA) passed as the build's extra CA bundle,
and the check that it is in no layer of an image: `docker save` of the image, every byte searched
(layers, configs, history) for the certificate's first base64 line."""

from __future__ import annotations

import datetime
from pathlib import Path

import docker
from tests.support.common import HOST_CA as COMMON_CA
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


HOST_CA = Path(COMMON_CA)


def write_canary_ca(path: Path) -> bytes:
    """Write the host's CA bundle (this machine's network may need it) + a new self-signed CA
    certificate to `path`, as an extra CA bundle; return the bytes to grep for."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jh-pipeline build canary")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes((HOST_CA.read_bytes() if HOST_CA.is_file() else b"") + pem)
    return pem.splitlines()[1]  # the first base64 line: unique to this certificate


def image_contains(client: docker.DockerClient, ref: str, needle: bytes) -> bool:
    """True when `needle` occurs anywhere in `docker save` of `ref` (all layers and configs)."""
    tail = b""
    for chunk in client.images.get(ref).save(named=True):
        data = tail + chunk
        if needle in data:
            return True
        tail = data[-len(needle):]
    return False

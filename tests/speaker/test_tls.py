"""The speaker on a TLS broker with a private CA (a real Mosquitto TLS listener)."""

from __future__ import annotations

from collections.abc import Iterator
import datetime as dt
import ipaddress
import json
from pathlib import Path
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from peers.broker import Mosquitto
from peers.mqtt import MqttProbe
from peers.speaker import SpeakerProcess, wait_connected, wait_history
from peers.voices import LaunchedServer


def _write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1; return (ca, cert, key) paths."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Moxie test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@pytest.fixture
def tls_broker(socket_enabled: None, tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    """A real mosquitto whose only listener speaks TLS; yields it and the CA file."""
    workdir = tmp_path / "tls_broker"
    workdir.mkdir()
    ca, cert, key = _write_pki(workdir)
    broker = Mosquitto(workdir, persistence=False)
    with broker.conf_path.open("a", encoding="utf-8") as conf:
        conf.write(f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
    broker.start()
    yield broker, ca
    broker.stop()


async def test_speaker_over_tls(
    tls_broker: tuple[Mosquitto, Path], piper: LaunchedServer, tmp_path: Path
) -> None:
    """--mqtt-tls with --mqtt-ca-file: the speaker verifies the broker and plays as usual."""
    broker, ca = tls_broker
    speaker = SpeakerProcess(
        tmp_path, broker, piper.uri, ["--no-pacing", "--mqtt-tls", "--mqtt-ca-file", str(ca)]
    )
    speaker.start()
    try:
        await wait_connected(speaker)
        context = ssl.create_default_context(cafile=str(ca))
        async with MqttProbe(broker.host, broker.port, "moxie/#", tls_context=context) as peer:
            await peer.publish("moxie/tts/text", json.dumps({"text": "Cifrado.", "id": "tls"}))
            entries = await wait_history(speaker, lambda h: len(h) == 1)
        assert entries[0]["outcome"] == "played"
        assert len(speaker.wavs()) == 1
    finally:
        speaker.stop()

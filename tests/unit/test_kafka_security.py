"""How every Kafka client of a service connects: PLAINTEXT by default, TLS and SASL for a managed
cluster (the Helm chart's `kafka.*` values), failing closed on a half-given setting."""

from __future__ import annotations

import ast
import datetime
import ssl
from pathlib import Path

import pytest
from aiokafka.client import AIOKafkaClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from alliance_platform.kafka import KafkaSecurity

REPO = Path(__file__).resolve().parents[2]
CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "AIOKafkaClient"}


def security(**env: str) -> KafkaSecurity:
    return KafkaSecurity.model_validate(env)


def ca_file(tmp_path: Path) -> Path:
    """A self-signed CA certificate, as a cluster's `ca.crt` Secret key would hold."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kafka-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_plaintext_by_default() -> None:
    plain = security()
    assert plain.client_options() == {"security_protocol": "PLAINTEXT"}
    assert plain.broker_security() is None


async def test_sasl_ssl_reaches_aiokafka_and_faststream_alike(tmp_path: Path) -> None:
    cafile = ca_file(tmp_path)
    scram = security(
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="alliance-scoring",
        KAFKA_SASL_PASSWORD="s3cret",
        KAFKA_SSL_CAFILE=str(cafile),
    )
    options = scram.client_options()
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "alliance-scoring",
        "sasl_plain_password": "s3cret",
    }
    # The brokers are verified, by name, against the given CA only.
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "kafka-test-ca"),),)]
    client = AIOKafkaClient(bootstrap_servers="kafka:9093", **scram.client_options())  # no I/O yet
    assert client._security_protocol == "SASL_SSL"
    assert client._sasl_mechanism == "SCRAM-SHA-512"
    broker = parse_security(scram.broker_security())
    assert broker["security_protocol"] == "SASL_SSL"
    assert broker["sasl_mechanism"] == "SCRAM-SHA-512"
    assert broker["sasl_plain_username"] == "alliance-scoring"
    assert broker["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "s3cret" not in repr(scram)


def test_sasl_plaintext_and_tls_alone() -> None:
    plain = security(
        KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        KAFKA_SASL_MECHANISM="PLAIN",
        KAFKA_SASL_USERNAME="u",
        KAFKA_SASL_PASSWORD="p",
    )
    assert "ssl_context" not in plain.client_options()
    assert parse_security(plain.broker_security())["security_protocol"] == "SASL_PLAINTEXT"
    tls = security(KAFKA_SECURITY_PROTOCOL="SSL")
    assert tls.client_options()["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert parse_security(tls.broker_security())["security_protocol"] == "SSL"


@pytest.mark.parametrize(
    "env",
    [
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "PLAIN"},
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"},
        {"KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"},
        {"KAFKA_SSL_CAFILE": "/run/kafka/ca.crt"},
        {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI"},
        {"KAFKA_SECURITY_PROTOCOL": "TLS"},
    ],
)
def test_half_a_setting_fails_closed(env: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        security(**env)


def test_the_password_from_a_file_and_never_both(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    scram = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "alliance-intake",
    }
    from_file = security(**scram, KAFKA_SASL_PASSWORD_FILE=str(secret))
    assert from_file.client_options()["sasl_plain_password"] == "s3cret"
    with pytest.raises(ValidationError, match="give one"):
        security(**scram, KAFKA_SASL_PASSWORD_FILE=str(secret), KAFKA_SASL_PASSWORD="p")
    for missing in (tmp_path / "absent", tmp_path):
        with pytest.raises(ValidationError, match="KAFKA_SASL_PASSWORD_FILE"):
            security(**scram, KAFKA_SASL_PASSWORD_FILE=str(missing))
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValidationError, match="is empty"):
        security(**scram, KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "empty"))


def test_a_refusal_does_not_print_the_password() -> None:
    with pytest.raises(ValidationError) as refused:
        security(
            KAFKA_SASL_MECHANISM="PLAIN", KAFKA_SASL_USERNAME="u", KAFKA_SASL_PASSWORD="s3cret"
        )
    assert "KAFKA_SECURITY_PROTOCOL=PLAINTEXT" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def name_of(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def test_every_kafka_client_the_services_create_is_given_the_settings() -> None:
    sources = [*REPO.glob("shared/*/src/**/*.py"), *REPO.glob("services/*/src/**/*.py")]
    checked = []
    for source in sources:
        for call in calls(ast.parse(source.read_text())):
            where = f"{source.relative_to(REPO)}:{call.lineno}"
            if name_of(call) in CLIENTS:
                spread = [k.value for k in call.keywords if k.arg is None]
                assert any(
                    isinstance(v, ast.Call) and name_of(v) == "kafka_client_options" for v in spread
                ), f"{where}: {name_of(call)} without **kafka_client_options()"
                checked.append(where)
            elif name_of(call) == "KafkaBroker":
                assert "security" in {k.arg for k in call.keywords}, f"{where}: no security="
                checked.append(where)
    assert len(checked) >= 10, checked

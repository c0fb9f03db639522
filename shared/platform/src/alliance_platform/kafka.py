"""Kafka plumbing on aiokafka: the idempotent producer, the partition it puts a key in, record
headers, and how every client of a process connects (TLS and SASL for a managed cluster)."""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.partitioner import murmur2
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alliance_contracts.events import EventEnvelope

# The broker's default `message.max.bytes`: the largest record batch it accepts.
DEFAULT_MESSAGE_MAX_BYTES = 1_048_588


class KafkaSecurity(BaseSettings):
    """How the process's Kafka clients authenticate and encrypt. PLAINTEXT by default (the local
    launcher, compose); SSL/SASL_SSL verify the brokers against `KAFKA_SSL_CAFILE` (or the
    system's CAs) and their host names."""

    # A refusal must not print the password it was given.
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", hide_input_in_errors=True)

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, alias="KAFKA_SASL_MECHANISM"
    )
    sasl_username: str | None = Field(None, alias="KAFKA_SASL_USERNAME")
    sasl_password: SecretStr | None = Field(None, alias="KAFKA_SASL_PASSWORD")
    # Or the file that holds it (a mounted Secret, the launcher's mode-0600 file): read once.
    sasl_password_file: Path | None = Field(None, alias="KAFKA_SASL_PASSWORD_FILE")
    _password_from_file: SecretStr | None = PrivateAttr(None)
    ssl_cafile: str | None = Field(None, alias="KAFKA_SSL_CAFILE")

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        # Fail closed: half a SASL setting, or one the protocol would silently ignore, is an error.
        if self.sasl_password_file is not None:
            if self.sasl_password is not None:
                raise ValueError("KAFKA_SASL_PASSWORD and KAFKA_SASL_PASSWORD_FILE: give one")
            try:
                text = self.sasl_password_file.read_text().rstrip("\n")
            except OSError as exc:
                raise ValueError(f"KAFKA_SASL_PASSWORD_FILE: {exc.strerror}") from None
            if not text:
                raise ValueError(f"KAFKA_SASL_PASSWORD_FILE {self.sasl_password_file} is empty")
            self._password_from_file = SecretStr(text)
        sasl = self.protocol.startswith("SASL_")
        given = [self.sasl_mechanism, self.sasl_username, self.password()]
        if sasl and not all(given):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.protocol} needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or KAFKA_SASL_PASSWORD_FILE)"
            )
        if not sasl and any(given):
            raise ValueError(f"KAFKA_SASL_* set, but KAFKA_SECURITY_PROTOCOL={self.protocol}")
        if self.ssl_cafile and not self.protocol.endswith("SSL"):
            raise ValueError(f"KAFKA_SSL_CAFILE set, but KAFKA_SECURITY_PROTOCOL={self.protocol}")
        return self

    def password(self) -> SecretStr | None:
        return self.sasl_password or self._password_from_file

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.protocol.endswith("SSL"):
            return None
        return ssl.create_default_context(cafile=self.ssl_cafile)

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin, client)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if (context := self.ssl_context()) is not None:
            options["ssl_context"] = context
        if (password := self.password()) is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = password.get_secret_value()
        return options

    def broker_security(self) -> BaseSecurity | None:
        """The same for FastStream's `KafkaBroker(security=...)`."""
        context = self.ssl_context()
        password = self.password()
        if self.sasl_username is None or password is None:
            return BaseSecurity(ssl_context=context) if context is not None else None
        mechanisms: dict[str, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        sasl = mechanisms[self.sasl_mechanism or ""]
        secret = password.get_secret_value()
        return sasl(self.sasl_username, secret, ssl_context=context, use_ssl=context is not None)


@functools.cache
def kafka_security() -> KafkaSecurity:
    """This process's Kafka security settings, read from the environment once."""
    return KafkaSecurity()


def kafka_client_options() -> dict[str, Any]:
    return kafka_security().client_options()


def create_producer(
    bootstrap_servers: str, client_id: str, *, max_request_size: int = 1_048_576
) -> AIOKafkaProducer:
    # Idempotent (no duplicates on retry, order kept per partition) and acks=all.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        max_request_size=max_request_size,
        **kafka_client_options(),
    )


@functools.lru_cache(maxsize=1 << 16)
def _hash_of(key: bytes) -> int:
    """murmur2 (pure Python in aiokafka) once per key: a key (a case) comes back often."""
    return int(murmur2(key)) & 0x7FFFFFFF


def partition_of(key: bytes, partitions: Sequence[int]) -> int:
    """The partition `send` picks for a key: the default partitioner of `create_producer`'s
    producers (aiokafka's `DefaultPartitioner`), over the topic's partitions in order."""
    return partitions[_hash_of(key) % len(partitions)]


def event_headers(event: EventEnvelope) -> list[tuple[str, bytes]]:
    return [
        ("content-type", b"application/json"),
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("clinic_id", event.clinic_id.encode()),
    ]


async def kafka_reachable(bootstrap_servers: str) -> bool:
    """True when the cluster answers a metadata request within 3 s (used by `/readyz`)."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=2000, **kafka_client_options()
    )
    try:
        async with asyncio.timeout(3):
            await client.bootstrap()
        return True
    except Exception:
        return False
    finally:
        await client.close()

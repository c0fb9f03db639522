"""Where the CLI finds Kafka and PostgreSQL, and the clear errors when it cannot reach them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
from aiokafka.errors import KafkaError


class Unreachable(Exception):
    """Kafka or PostgreSQL did not answer: the message says which, where and why."""


@dataclass(frozen=True)
class Engines:
    database_url: str  # an operator's (or administrator's) URL: the CLI reads every schema
    kafka_bootstrap_servers: str

    @classmethod
    def from_env(cls, database_url: str | None, kafka: str | None) -> Engines:
        url = (
            database_url
            or os.environ.get("ALLIANCE_DB_ADMIN_URL")
            or os.environ.get("DATABASE_URL")
        )
        if not url:
            raise Unreachable("no database: pass --database-url or set ALLIANCE_DB_ADMIN_URL")
        return cls(url, kafka_servers(kafka))

    @property
    def database_host(self) -> str:
        """Host, port and database, without the credentials."""
        parts = urlsplit(self.database_url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}"

    @asynccontextmanager
    async def database(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            conn = await asyncpg.connect(self.database_url, timeout=5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            raise Unreachable(
                f"cannot reach PostgreSQL at {self.database_host}: {_why(exc)}"
            ) from None
        try:
            yield conn
        finally:
            await conn.close()

    def kafka_error(self, exc: BaseException) -> Unreachable:
        return Unreachable(f"cannot reach Kafka at {self.kafka_bootstrap_servers}: {_why(exc)}")


def kafka_servers(kafka: str | None) -> str:
    servers = kafka or os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not servers:
        raise Unreachable("no Kafka: pass --kafka or set KAFKA_BOOTSTRAP_SERVERS")
    return servers


KAFKA_ERRORS: tuple[type[BaseException], ...] = (KafkaError, OSError, TimeoutError)


def _why(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

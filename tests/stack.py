"""Where the tests find real Kafka and PostgreSQL, in this order:

1. endpoints from the environment (KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL);
2. testcontainers, when a Docker engine answers;
3. the project's own launcher (alliance_devstack), in a throwaway directory.

Never an in-memory fake.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alliance_devstack.client import launched_stack
from alliance_platform.dbroles import SCHEMAS, service_url

KAFKA_IMAGE = "apache/kafka:4.1.1"  # same version as tools/devstack/kafka/pom.xml


# Each service logs in with its own role (alliance_platform.dbroles); set up by the `stack` fixture.
DB_PASSWORDS = {service: secrets.token_urlsafe(16) for service in SCHEMAS}


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    database_url: str  # an administrator's
    source: str

    def env(self) -> dict[str, str]:
        """As the administrator (in-process services in integration tests)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": self.database_url,
        }

    def service_env(self, service: str) -> dict[str, str]:
        """As the service's own database role, as in production."""
        url = service_url(self.database_url, service, DB_PASSWORDS[service])
        return {**self.env(), "DATABASE_URL": url}


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def from_testcontainers() -> Iterator[Endpoints]:
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = 19092
    kafka = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(port, port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", f"PLAINTEXT://:{port},CONTROLLER://:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
        .waiting_for(LogMessageWaitStrategy("Kafka Server started"))
    )
    with (
        PostgresContainer(
            "postgres:15", username="alliance", password="alliance", dbname="alliance", driver=None
        ) as pg,
        kafka,
    ):
        yield Endpoints(f"127.0.0.1:{port}", pg.get_connection_url(), "testcontainers")


@contextlib.contextmanager
def from_launcher() -> Iterator[Endpoints]:
    stack_dir = os.environ.get("ALLIANCE_TEST_STACK_DIR") or tempfile.mkdtemp(prefix="alliance-")
    with launched_stack(Path(stack_dir)) as launched:
        values = launched.env
        yield Endpoints(values["KAFKA_BOOTSTRAP_SERVERS"], values["DATABASE_URL"], "launcher")


@contextlib.contextmanager
def real_stack() -> Iterator[Endpoints]:
    kafka, db = os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), os.environ.get("DATABASE_URL")
    if kafka and db:
        yield Endpoints(kafka, db, "environment")
    elif docker_engine_answers():
        with from_testcontainers() as endpoints:
            yield endpoints
    else:
        with from_launcher() as endpoints:
            yield endpoints

"""Shared fixtures. Integration and end-to-end tests run against real Kafka and PostgreSQL
(see tests/stack.py for where they come from)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import asyncpg
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from alliance_devstack.processes import ServiceProcess
from alliance_devstack.state import SERVICES
from alliance_platform import tracing
from alliance_platform.dbroles import bootstrap
from alliance_platform.migrate import installed_environments, upgrade
from alliance_platform.provisioning import provision
from tests.helpers import AUTH_ENV
from tests.signin import DevIssuerEndpoint, running_dev_issuer
from tests.stack import DB_PASSWORDS, Endpoints, real_stack

T = TypeVar("T")

INTEGRATION_DIRS = ("integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)
        if "browser" in parts:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def stack() -> Iterator[Endpoints]:
    with real_stack() as endpoints:
        partitions = int(os.environ.get("ALLIANCE_TOPIC_PARTITIONS", "12"))
        asyncio.run(provision(endpoints.kafka_bootstrap_servers, partitions))
        asyncio.run(bootstrap(endpoints.database_url, DB_PASSWORDS))
        # The schemas of record, as the services' roles (the services only check them).
        upgrade(endpoints.database_url, installed_environments(), DB_PASSWORDS)
        yield endpoints


@pytest.fixture(scope="session")
def dev_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevIssuerEndpoint]:
    """The local stack's dev sign-in issuer, as its own process (tests/signin.py)."""
    yield from running_dev_issuer(tmp_path_factory.mktemp("dev-issuer"))


@pytest.fixture(scope="session")
def services(
    stack: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
    """The four services as separate OS processes, running until the session ends: for the
    end-to-end tests, and the console's browser tests (after the integration tests, whose
    in-process services use the same consumer groups; see testpaths)."""
    log_dir = tmp_path_factory.mktemp("service-logs")
    env = {
        **os.environ,
        **AUTH_ENV,
        "ALLIANCE_SCORING_BATCH": "25",
        "ALLIANCE_SCORING_REBUILD_BATCH": "25",
    }
    running = {
        name: ServiceProcess(name, {**env, **stack.service_env(name)}, log_dir / f"{name}.log")
        for name in SERVICES
    }
    try:
        for service in running.values():
            service.start()
        for service in running.values():
            service.wait_ready()
        yield running
    finally:
        for service in running.values():
            service.stop()


@pytest.fixture(scope="session")
async def pg(stack: Endpoints) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test, into the SDK's in-memory exporter; off again after it."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)
        provider.shutdown()


@pytest.fixture
def ids() -> Callable[[str], str]:
    """Unique pseudonymous ids per test, so tests sharing a database never see each other."""
    run = uuid.uuid4().hex[:10]
    return lambda name: f"{name}-{run}"


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 60, interval: float = 0.25
) -> T:
    """Polls `probe` until it returns something truthy; fails after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await probe()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s (last: {result!r})")
        await asyncio.sleep(interval)

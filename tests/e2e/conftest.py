"""The four services as separate OS processes against the real stack."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from alliance_devstack.processes import ServiceProcess
from alliance_devstack.state import SERVICES
from tests.helpers import AUTH_ENV
from tests.stack import Endpoints


@pytest.fixture(scope="session")
def services(
    stack: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServiceProcess]]:
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

"""The alerts service's background loops: the escalation clock and webhook delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any

import httpx

from alliance_alerts.adapters.delivery_store import migrate_plaintext_secrets
from alliance_alerts.adapters.unit_of_work import (
    PostgresAlertsUnitOfWork,
    PostgresDeliveryUnitOfWork,
)
from alliance_alerts.application.delivery import deliver_due
from alliance_alerts.application.handlers import escalate_due
from alliance_alerts.entrypoints.metrics import count_attempts
from alliance_alerts.settings import AlertsSettings
from alliance_platform.catchup import CatchUp
from alliance_platform.projector import GenerationRuntime
from alliance_platform.runtime import Runtime

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def every(
    seconds: float,
    name: str,
    step: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[], Coroutine[Any, Any, None]]:
    """`stop`: releases what the steps hold, when the loop is cancelled."""

    async def loop() -> None:
        try:
            while True:
                try:
                    await step()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; retrying", name)
                await asyncio.sleep(seconds)
        finally:
            if stop is not None:
                await stop()

    return loop


def escalation_step(
    runtime: GenerationRuntime, clock: Clock, catch_up: CatchUp
) -> Callable[[], Awaitable[None]]:
    """Records the escalations due by the time the projection is complete for: every record
    that was in its input topics at the previous tick is applied (`CatchUp`). Live that lags the
    clock by a tick; during a replay nothing is decided from the half-built projection (its
    escalations come from the alert-clock topic instead)."""

    async def step() -> None:
        until = await catch_up.advance(clock())
        uow = PostgresAlertsUnitOfWork(runtime.pool, runtime.schema)
        if until is not None and await escalate_due(uow, until):
            runtime.relay.wake()
            catch_up.restart()  # decide again once these are applied (a repeat is a no-op)

    return step


def delivery_step(
    settings: AlertsSettings, runtime: Runtime, clock: Clock
) -> Callable[[], Awaitable[None]]:
    # Redirects are not followed (a public endpoint must not bounce a delivery inward), and no
    # proxy from the environment is used.
    client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
    box = settings.secret_box()

    migrated = False

    async def step() -> None:
        nonlocal migrated
        if box is None:
            return  # no encryption key: no endpoint can be registered, nothing to send
        pool, relay = runtime.require()
        if not migrated:
            await migrate_plaintext_secrets(pool, box)
            migrated = True
        uow = PostgresDeliveryUnitOfWork(pool)
        outcomes = await deliver_due(uow, client, box, clock(), settings.delivery_policy())
        count_attempts(outcomes)
        if outcomes:
            relay.wake()  # a dead letter may be waiting in the outbox

    return step

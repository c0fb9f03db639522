"""Webhook delivery: notices become deliveries (once per notice and clinic, live notices only),
then a worker sends them, signed (Standard Webhooks), with exponential backoff, and
dead-letters them after the last attempt. Every attempt is logged.

No HTTP call is made while a transaction or row lock is held: a short transaction leases the
due deliveries (moves their next attempt past the longest attempt), the requests go out, and a
second transaction records the outcomes. A worker that dies in between leaves the lease to
expire and the delivery is tried again: at least once, and receivers de-duplicate on
`webhook-id`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from datetime import datetime

import httpx

from alliance_alerts.adapters import delivery_store as store
from alliance_alerts.adapters.secret_box import SecretBox, SecretBoxError
from alliance_alerts.adapters.webhook_client import check_endpoint, send
from alliance_alerts.application.ports import DeliveryUnitOfWork
from alliance_alerts.domain.webhooks import (
    SECRET_BYTES,
    DeliveryPolicy,
    EndpointRefused,
    Outcome,
    after_attempt,
    is_live,
    secret_from_bytes,
    signature_headers,
)
from alliance_contracts.events import AlertNotice
from alliance_platform.tracing import traceparent_for
from alliance_platform.tracing import webhook as webhook_span

log = logging.getLogger(__name__)


async def enqueue_deliveries(
    uow: DeliveryUnitOfWork, notices: Sequence[AlertNotice], now: datetime, policy: DeliveryPolicy
) -> int:
    live = [n for n in notices if is_live(n.recorded_at, now, policy.live_window)]
    if not live:
        return 0
    async with uow:
        hooks = await uow.deliveries.active_endpoints(list({n.clinic_id for n in live}))
        rows = [
            (
                n.event_id,
                n.clinic_id,
                hooks[n.clinic_id],
                n.model_dump_json().encode(),
                now,
                traceparent_for(n),  # the notice's trace, which its attempts continue
            )
            for n in live
            if n.clinic_id in hooks
        ]
        await uow.deliveries.queue(rows)
        await uow.commit()
    return len(rows)


async def deliver_due(
    uow: DeliveryUnitOfWork,
    client: httpx.AsyncClient,
    box: SecretBox,
    now: datetime,
    policy: DeliveryPolicy,
    limit: int = 20,
) -> list[Outcome]:
    """Sends the deliveries that are due. Returns what each attempt made of its delivery."""
    lease_end = now + policy.lease
    async with uow:
        due = await uow.deliveries.lease(now, lease_end, limit)
        await uow.commit()
    # Leased and committed: the requests go out with no transaction open.
    results = await asyncio.gather(*(attempt(client, box, row, now, policy) for row in due))
    outcomes = [
        after_attempt(result, row["attempts"] + 1, now, policy)
        for row, result in zip(due, results, strict=True)
    ]
    async with uow:
        await uow.deliveries.record(list(zip(due, results, outcomes, strict=True)), now, lease_end)
        await uow.commit()
    return outcomes


async def attempt(
    client: httpx.AsyncClient,
    box: SecretBox,
    row: store.Row,
    now: datetime,
    policy: DeliveryPolicy,
) -> str:
    """One attempt, within `policy.attempt_s` in all (the lookup included): its result."""
    body = bytes(row["body"])
    with webhook_span(row["traceparent"], row["clinic_id"]):  # in the notice's trace
        try:
            async with asyncio.timeout(policy.attempt_s):
                target = await check_endpoint(row["url"], policy)  # again: DNS may have changed
                signed = signature_headers(
                    str(row["notice_id"]),
                    int(now.timestamp()),
                    body,
                    store.open_secrets(box, row, now),
                )
                return str(await send(client, target, body, signed, policy.timeout_s))
        except EndpointRefused as refused:
            return f"refused: {refused}"
        except SecretBoxError:
            log.error("webhook secret unusable", extra={"clinic_id": row["clinic_id"]})
            return "error: secret"
        except (TimeoutError, httpx.TimeoutException):
            return "timeout"
        except Exception as exc:  # one endpoint's failure is its result, never the batch's
            return f"error: {type(exc).__name__}"


async def set_endpoint(
    uow: DeliveryUnitOfWork,
    box: SecretBox,
    clinic_id: str,
    url: str,
    active: bool,
    policy: DeliveryPolicy,
) -> str | None:
    """Registers or changes the clinic's endpoint. Returns the new secret when the endpoint is
    new (it is shown once); the secret of an existing endpoint is kept."""
    await check_endpoint(url, policy)
    secret = secret_from_bytes(os.urandom(SECRET_BYTES))
    async with uow:
        sealed = box.seal(secret, clinic_id)
        created = await uow.deliveries.upsert_endpoint(clinic_id, url, active, sealed)
        await uow.commit()
    return secret if created else None


async def rotate_secret(
    uow: DeliveryUnitOfWork, box: SecretBox, clinic_id: str, now: datetime, policy: DeliveryPolicy
) -> tuple[str, datetime] | None:
    """A new secret; the current one stays valid (deliveries carry both signatures) until the
    returned time. None when the clinic has no endpoint; RotationInProgress while a previous
    rotation's changeover lasts."""
    secret = secret_from_bytes(os.urandom(SECRET_BYTES))
    until = now + policy.rotation_overlap
    async with uow:
        rotated = await uow.deliveries.rotate(clinic_id, box.seal(secret, clinic_id), now, until)
        await uow.commit()
    return (secret, until) if rotated else None

"""Webhook delivery: notices become deliveries (once per notice and clinic, live notices only),
then a worker sends them, signed (Standard Webhooks), with exponential backoff, and
dead-letters them after the last attempt. Every attempt is logged.

No HTTP call is made while a transaction or row lock is held: a short transaction leases the
due deliveries (moves their next attempt past the request timeout), the requests go out, and a
second transaction records the outcomes. A worker that dies in between leaves the lease to
expire and the delivery is tried again: at least once, and receivers de-duplicate on
`webhook-id`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA as S
from alliance_alerts.adapters.secret_box import Sealed, SecretBox, SecretBoxError
from alliance_alerts.domain.webhooks import (
    SECRET_BYTES,
    IPAddress,
    IPNetwork,
    address_refusal,
    allowed_http,
    is_live,
    next_attempt,
    secret_from_bytes,
    signature_headers,
)
from alliance_shared.events import AlertNotice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10  # 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 3 h in all
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    timeout_s: float = 5.0
    live_window: timedelta = timedelta(hours=24)
    rotation_overlap: timedelta = timedelta(hours=24)
    # Networks that may receive although not public (and may use plain http).
    allow_networks: tuple[IPNetwork, ...] = ()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_s * 2 + 5)


class EndpointRefused(Exception):
    """The URL may not receive webhooks; the message names the rule."""


async def resolve(url: str) -> list[IPAddress]:
    parts = urlsplit(url)
    if not parts.hostname:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_endpoint(url: str, policy: DeliveryPolicy) -> None:
    """Resolves the host and refuses internal addresses (SSRF) and plain http to the public."""
    addresses = await resolve(url)
    if refusal := address_refusal(addresses, policy.allow_networks):
        raise EndpointRefused(refusal)
    if urlsplit(url).scheme != "https" and not allowed_http(addresses, policy.allow_networks):
        raise EndpointRefused("must be https")


async def enqueue_deliveries(
    pool: asyncpg.Pool, notices: Sequence[AlertNotice], now: datetime, policy: DeliveryPolicy
) -> int:
    live = [n for n in notices if is_live(n.recorded_at, now, policy.live_window)]
    if not live:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        hooks = {
            r["clinic_id"]: r["url"]
            for r in await conn.fetch(
                f"SELECT clinic_id, url FROM {S}.endpoint WHERE active AND clinic_id = ANY($1)",
                list({n.clinic_id for n in live}),
            )
        }
        rows = [
            (n.event_id, n.clinic_id, hooks[n.clinic_id], n.model_dump_json().encode(), now)
            for n in live
            if n.clinic_id in hooks
        ]
        await conn.executemany(
            f"INSERT INTO {S}.delivery (notice_id, clinic_id, url, body, status, next_attempt_at) "
            "VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT DO NOTHING",
            rows,
        )
    return len(rows)


DeadLetter = Callable[[bytes, str, str], Awaitable[None]]


async def deliver_due(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    box: SecretBox,
    now: datetime,
    policy: DeliveryPolicy,
    dead_letter: DeadLetter,
    limit: int = 20,
) -> int:
    """Sends the deliveries that are due. Returns how many were attempted."""
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(
            # The clinic's current endpoint and secrets; nothing goes out once it is deactivated.
            f"WITH due AS (SELECT d.id FROM {S}.delivery d JOIN {S}.endpoint e USING (clinic_id) "
            "  WHERE d.status = 'pending' AND e.active AND d.next_attempt_at <= $1 "
            "  ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED) "
            f"UPDATE {S}.delivery d SET next_attempt_at = $3 FROM due, {S}.endpoint e "
            "WHERE d.id = due.id AND e.clinic_id = d.clinic_id "
            "RETURNING d.id, d.notice_id, d.clinic_id, d.body, d.attempts, e.url, "
            "e.secret_key_id, e.secret_sealed, e.previous_key_id, e.previous_sealed, "
            "e.previous_valid_until",
            now,
            limit,
            now + policy.lease,
        )
    # Leased and committed: the requests go out with no transaction open.
    outcomes = await asyncio.gather(*(_post(client, box, r, now, policy) for r in due))
    async with pool.acquire() as conn, conn.transaction():
        for row, outcome in zip(due, outcomes, strict=True):
            attempts = row["attempts"] + 1
            await conn.execute(
                f"INSERT INTO {S}.attempt (delivery_id, at, outcome) VALUES ($1, $2, $3)",
                row["id"],
                now,
                outcome,
            )
            if outcome.startswith("2"):
                status, next_at, error = "delivered", now, None
            elif attempts >= policy.max_attempts:
                status, next_at, error = "dead", now, outcome
                reason = f"webhook delivery failed {attempts} times; last: {outcome}"
                await dead_letter(bytes(row["body"]), row["clinic_id"], reason)
            else:
                status, error = "pending", outcome
                next_at = next_attempt(attempts, now, policy.backoff_base_s, policy.backoff_cap_s)
            await conn.execute(
                f"UPDATE {S}.delivery SET status = $2, attempts = $3, next_attempt_at = $4, "
                "last_error = $5, "
                "delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END WHERE id = $1",
                row["id"],
                status,
                attempts,
                next_at,
                error,
                now,
            )
    return len(due)


def _secrets(box: SecretBox, row: Any, now: datetime) -> list[str]:
    clinic = row["clinic_id"]
    secrets = [box.open(Sealed(row["secret_key_id"], bytes(row["secret_sealed"])), clinic)]
    until = row["previous_valid_until"]
    if row["previous_sealed"] is not None and until is not None and now < until:
        previous = Sealed(row["previous_key_id"], bytes(row["previous_sealed"]))
        secrets.append(box.open(previous, clinic))
    return secrets


async def _post(
    client: httpx.AsyncClient, box: SecretBox, row: Any, now: datetime, policy: DeliveryPolicy
) -> str:
    body = bytes(row["body"])
    try:
        await check_endpoint(row["url"], policy)  # again: DNS may have changed since
        secrets = _secrets(box, row, now)
    except EndpointRefused as refused:
        return f"refused: {refused}"
    except SecretBoxError as exc:
        log.error("webhook secret unusable", extra={"clinic_id": row["clinic_id"]})
        return f"error: secret ({type(exc).__name__})"
    headers = {
        "content-type": "application/json",
        **signature_headers(str(row["notice_id"]), int(now.timestamp()), body, secrets),
    }
    try:
        response = await client.post(
            row["url"], content=body, headers=headers, timeout=policy.timeout_s
        )
        return str(response.status_code)
    except httpx.TimeoutException:
        return "timeout"
    except httpx.HTTPError as exc:
        return f"error: {type(exc).__name__}"


async def set_endpoint(
    pool: asyncpg.Pool,
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
    sealed = box.seal(secret, clinic_id)
    created = await pool.fetchval(
        f"INSERT INTO {S}.endpoint (clinic_id, url, secret_key_id, secret_sealed, active) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (clinic_id) DO UPDATE SET url = EXCLUDED.url, "
        "active = EXCLUDED.active, updated_at = now() RETURNING (xmax = 0)",
        clinic_id,
        url,
        sealed.key_id,
        sealed.blob,
        active,
    )
    return secret if created else None


async def rotate_secret(
    pool: asyncpg.Pool, box: SecretBox, clinic_id: str, now: datetime, policy: DeliveryPolicy
) -> tuple[str, datetime] | None:
    """A new secret; the current one stays valid (deliveries carry both signatures) until the
    returned time. None when the clinic has no endpoint."""
    secret = secret_from_bytes(os.urandom(SECRET_BYTES))
    sealed = box.seal(secret, clinic_id)
    until = now + policy.rotation_overlap
    updated = await pool.fetchval(
        f"UPDATE {S}.endpoint SET previous_key_id = secret_key_id, "
        "previous_sealed = secret_sealed, previous_valid_until = $4, secret_key_id = $2, "
        "secret_sealed = $3, updated_at = now() WHERE clinic_id = $1 RETURNING 1",
        clinic_id,
        sealed.key_id,
        sealed.blob,
        until,
    )
    return (secret, until) if updated else None


async def reseal_all(pool: asyncpg.Pool, box: SecretBox) -> tuple[int, list[str]]:
    """Re-seals every secret with the current encryption key (after a key rotation). Returns how
    many endpoints were re-sealed and the clinics whose secrets no configured key opens (they
    are left as they are: register those webhooks again)."""
    resealed, unreadable = 0, []
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"SELECT clinic_id, secret_key_id, secret_sealed, previous_key_id, previous_sealed "
            f"FROM {S}.endpoint WHERE secret_key_id <> $1 OR previous_key_id <> $1 FOR UPDATE",
            box.current,
        )
        for r in rows:
            clinic = r["clinic_id"]

            def reseal(kid: str, blob: bytes, clinic: str = clinic) -> Sealed:
                return box.seal(box.open(Sealed(kid, blob), clinic), clinic)

            try:
                current = reseal(r["secret_key_id"], r["secret_sealed"])
                previous = (
                    reseal(r["previous_key_id"], r["previous_sealed"])
                    if r["previous_sealed"] is not None
                    else None
                )
            except SecretBoxError:
                unreadable.append(clinic)
                continue
            await conn.execute(
                f"UPDATE {S}.endpoint SET secret_key_id = $2, secret_sealed = $3, "
                "previous_key_id = $4, previous_sealed = $5 WHERE clinic_id = $1",
                clinic,
                current.key_id,
                current.blob,
                previous.key_id if previous else None,
                previous.blob if previous else None,
            )
            resealed += 1
    return resealed, unreadable


async def delivery_log(
    pool: asyncpg.Pool, clinic_id: str, limit: int = 100
) -> list[dict[str, object]]:
    rows = await pool.fetch(
        f"SELECT d.notice_id, d.status, d.attempts, d.last_error, d.created_at, d.delivered_at, "
        f"coalesce(json_agg(json_build_object('at', a.at, 'outcome', a.outcome) ORDER BY a.at) "
        f"FILTER (WHERE a.id IS NOT NULL), '[]') AS attempts_log "
        f"FROM {S}.delivery d LEFT JOIN {S}.attempt a ON a.delivery_id = d.id "
        "WHERE d.clinic_id = $1 GROUP BY d.id ORDER BY d.created_at DESC LIMIT $2",
        clinic_id,
        limit,
    )
    return [{**dict(r), "attempts_log": json.loads(r["attempts_log"])} for r in rows]

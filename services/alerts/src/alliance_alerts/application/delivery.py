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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA as S
from alliance_alerts.adapters.secret_box import Sealed, SecretBox, SecretBoxError
from alliance_alerts.adapters.tables import SCHEMA as OUTBOX_SCHEMA
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
from alliance_shared.outbox import Connection
from alliance_shared.topics import DEAD_LETTER

log = logging.getLogger(__name__)
RESOLVE_TIMEOUT_S = 5.0


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
    def attempt_s(self) -> float:
        """The most one attempt may take, the lookup included."""
        return self.timeout_s + RESOLVE_TIMEOUT_S

    @property
    def lease(self) -> timedelta:
        """How long a worker holds the deliveries it sends: longer than any attempt."""
        return timedelta(seconds=self.attempt_s * 2)


class EndpointRefused(Exception):
    """The URL may not receive webhooks; the message names the rule."""


@dataclass(frozen=True)
class Target:
    """Where a request really goes: the checked address, with the name for Host and TLS."""

    url: str  # with the checked IP address as host
    host_header: str
    tls_name: str | None


async def resolve(url: str) -> list[IPAddress]:
    parts = urlsplit(url)
    if not parts.hostname:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
    except (OSError, UnicodeError, TimeoutError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_endpoint(url: str, policy: DeliveryPolicy) -> Target:
    """Resolves the host and refuses internal addresses (SSRF) and plain http to the public.
    The request then goes to the address checked here, not to a second lookup of the name (a
    name that resolves differently the next time cannot steer it inward)."""
    addresses = await resolve(url)
    if refusal := address_refusal(addresses, policy.allow_networks):
        raise EndpointRefused(refusal)
    parts = urlsplit(url)
    if parts.scheme != "https" and not allowed_http(addresses, policy.allow_networks):
        raise EndpointRefused("must be https")
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    host_header = parts.netloc.rsplit("@", 1)[-1]
    tls_name = parts.hostname if parts.scheme == "https" else None
    return Target(urlunsplit(parts._replace(netloc=netloc)), host_header, tls_name)


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


async def deliver_due(
    pool: asyncpg.Pool,
    client: httpx.AsyncClient,
    box: SecretBox,
    now: datetime,
    policy: DeliveryPolicy,
    limit: int = 20,
) -> int:
    """Sends the deliveries that are due. Returns how many were attempted."""
    lease_end = now + policy.lease
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
            lease_end,
        )
    # Leased and committed: the requests go out with no transaction open.
    outcomes = await asyncio.gather(*(_post(client, box, r, now, policy) for r in due))
    async with pool.acquire() as conn, conn.transaction():
        for row, outcome in zip(due, outcomes, strict=True):
            attempts = row["attempts"] + 1
            if outcome.startswith("2"):
                status, next_at, error = "delivered", now, None
            elif attempts >= policy.max_attempts:
                status, next_at, error = "dead", now, outcome
            else:
                status, error = "pending", outcome
                next_at = next_attempt(attempts, now, policy.backoff_base_s, policy.backoff_cap_s)
            # Only while the lease is ours: a worker that overran it records nothing.
            updated = await conn.fetchval(
                f"UPDATE {S}.delivery SET status = $2, attempts = $3, next_attempt_at = $4, "
                "last_error = $5, "
                "delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END "
                "WHERE id = $1 AND status = 'pending' AND next_attempt_at = $7 RETURNING 1",
                row["id"],
                status,
                attempts,
                next_at,
                error,
                now,
                lease_end,
            )
            if not updated:
                continue
            await conn.execute(
                f"INSERT INTO {S}.attempt (delivery_id, at, outcome) VALUES ($1, $2, $3)",
                row["id"],
                now,
                outcome,
            )
            if status == "dead":  # in the same transaction, through the service's outbox
                reason = f"webhook delivery failed {attempts} times; last: {outcome}"
                await dead_letter(conn, row, reason)
    return len(due)


async def dead_letter(conn: Connection, row: Any, reason: str) -> None:
    headers = {"dlq_reason": reason, "dlq_service": "alerts", "dlq_source": "webhook"}
    await conn.execute(
        f"INSERT INTO {OUTBOX_SCHEMA}.outbox (topic, key, event_id, value, headers) "
        "VALUES ($1, $2, $3, $4, $5::jsonb)",
        DEAD_LETTER.name,
        row["clinic_id"],
        row["notice_id"],
        bytes(row["body"]),
        json.dumps(headers),
    )


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
    """One attempt, within `policy.attempt_s` in all (the lookup included): its outcome."""
    body = bytes(row["body"])
    try:
        async with asyncio.timeout(policy.attempt_s):
            target = await check_endpoint(row["url"], policy)  # again: DNS may have changed
            signed = signature_headers(
                str(row["notice_id"]), int(now.timestamp()), body, _secrets(box, row, now)
            )
            response = await client.post(
                target.url,
                content=body,
                headers={"content-type": "application/json", "host": target.host_header, **signed},
                timeout=policy.timeout_s,
                extensions={"sni_hostname": target.tls_name} if target.tls_name else None,
            )
        return str(response.status_code)
    except EndpointRefused as refused:
        return f"refused: {refused}"
    except SecretBoxError:
        log.error("webhook secret unusable", extra={"clinic_id": row["clinic_id"]})
        return "error: secret"
    except (TimeoutError, httpx.TimeoutException):
        return "timeout"
    except Exception as exc:  # one endpoint's failure is its outcome, never the batch's
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


class RotationInProgress(Exception):
    """The previous secret is still valid: rotating again would cut off the one the clinic may
    still use."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


async def rotate_secret(
    pool: asyncpg.Pool, box: SecretBox, clinic_id: str, now: datetime, policy: DeliveryPolicy
) -> tuple[str, datetime] | None:
    """A new secret; the current one stays valid (deliveries carry both signatures) until the
    returned time. None when the clinic has no endpoint; RotationInProgress while a previous
    rotation's changeover lasts."""
    secret = secret_from_bytes(os.urandom(SECRET_BYTES))
    sealed = box.seal(secret, clinic_id)
    until = now + policy.rotation_overlap
    async with pool.acquire() as conn, conn.transaction():
        current = await conn.fetchrow(
            f"SELECT previous_valid_until FROM {S}.endpoint WHERE clinic_id = $1 FOR UPDATE",
            clinic_id,
        )
        if current is None:
            return None
        if current["previous_valid_until"] is not None and current["previous_valid_until"] > now:
            raise RotationInProgress(current["previous_valid_until"])
        await conn.execute(
            f"UPDATE {S}.endpoint SET previous_key_id = secret_key_id, "
            "previous_sealed = secret_sealed, previous_valid_until = $4, secret_key_id = $2, "
            "secret_sealed = $3, updated_at = now() WHERE clinic_id = $1",
            clinic_id,
            sealed.key_id,
            sealed.blob,
            until,
        )
    return secret, until


async def migrate_plaintext_secrets(pool: asyncpg.Pool, box: SecretBox) -> int:
    """Endpoints registered before secrets were sealed (table `webhook`, plain text): sealed
    into `endpoint` (the old secret as a Standard Webhooks key, `whsec_` + base64 of its
    bytes), then the plain-text table is dropped. Returns how many were moved."""
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(f"SELECT to_regclass('{S}.webhook')") is None:
            return 0
        rows = await conn.fetch(f"SELECT clinic_id, url, secret, active FROM {S}.webhook")
        for r in rows:
            sealed = box.seal(secret_from_bytes(r["secret"].encode()), r["clinic_id"])
            await conn.execute(
                f"INSERT INTO {S}.endpoint (clinic_id, url, secret_key_id, secret_sealed, active) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (clinic_id) DO NOTHING",
                r["clinic_id"],
                r["url"],
                sealed.key_id,
                sealed.blob,
                r["active"],
            )
        await conn.execute(f"DROP TABLE {S}.webhook")
    log.warning(
        "sealed plain-text webhook secrets and dropped the old table", extra={"count": len(rows)}
    )
    return len(rows)


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

"""Webhook delivery: notices become deliveries (once per notice and clinic, live notices only),
then a worker sends them, signed, with exponential backoff, and dead-letters them after the
last attempt. Every attempt is logged."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import httpx

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA as S
from alliance_alerts.domain.webhooks import SIGNATURE_HEADER, is_live, next_attempt, sign
from alliance_shared.events import AlertNotice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10  # 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 3 h in all
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    timeout_s: float = 5.0
    live_window: timedelta = timedelta(hours=24)


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
                f"SELECT clinic_id, url FROM {S}.webhook WHERE active AND clinic_id = ANY($1)",
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
    now: datetime,
    policy: DeliveryPolicy,
    dead_letter: DeadLetter,
    limit: int = 20,
) -> int:
    """Sends the deliveries that are due. Returns how many were attempted."""
    async with pool.acquire() as conn, conn.transaction():
        due = await conn.fetch(
            # The clinic's current endpoint and secret; nothing goes out once it is deactivated.
            f"SELECT d.id, d.notice_id, d.clinic_id, w.url, d.body, d.attempts, w.secret "
            f"FROM {S}.delivery d JOIN {S}.webhook w USING (clinic_id) "
            "WHERE d.status = 'pending' AND w.active AND d.next_attempt_at <= $1 "
            "ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED",
            now,
            limit,
        )
        outcomes = await asyncio.gather(*(_post(client, r, now, policy) for r in due))
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


async def _post(
    client: httpx.AsyncClient, row: asyncpg.Record, now: datetime, policy: DeliveryPolicy
) -> str:
    body = bytes(row["body"])
    headers = {
        "content-type": "application/json",
        SIGNATURE_HEADER: sign(row["secret"], body, int(now.timestamp())),
        "X-Alliance-Notice-Id": str(row["notice_id"]),
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


async def set_webhook(
    pool: asyncpg.Pool, clinic_id: str, url: str, secret: str, active: bool
) -> None:
    await pool.execute(
        f"INSERT INTO {S}.webhook (clinic_id, url, secret, active) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (clinic_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, "
        "active = EXCLUDED.active, updated_at = now()",
        clinic_id,
        url,
        secret,
        active,
    )


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

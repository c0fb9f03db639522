"""Webhook endpoints and deliveries in PostgreSQL (schema `alerts_delivery`): queueing,
leasing, recording outcomes (dead letters through the service's outbox), endpoints and their
sealed secrets, the delivery log."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA as S
from alliance_alerts.adapters.secret_box import Sealed, SecretBox, SecretBoxError
from alliance_alerts.domain.webhooks import Outcome, RotationInProgress, secret_from_bytes
from alliance_contracts.topics import DEAD_LETTER
from alliance_platform.outbox import Connection

log = logging.getLogger(__name__)
Row = Any  # an asyncpg record of a leased delivery


async def queue(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """(notice id, clinic, url, body, due, traceparent): at most once per notice and clinic."""
    await conn.executemany(
        f"INSERT INTO {S}.delivery "
        "(notice_id, clinic_id, url, body, status, next_attempt_at, traceparent) "
        "VALUES ($1, $2, $3, $4, 'pending', $5, $6) ON CONFLICT DO NOTHING",
        rows,
    )


async def active_endpoints(conn: Connection, clinic_ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        f"SELECT clinic_id, url FROM {S}.endpoint WHERE active AND clinic_id = ANY($1)",
        list(clinic_ids),
    )
    return {r["clinic_id"]: r["url"] for r in rows}


async def lease_due(conn: Connection, now: datetime, lease_end: datetime, limit: int) -> list[Row]:
    """The due deliveries of active endpoints, with their endpoint's URL and sealed secrets;
    their next attempt moves to `lease_end` (to be committed before any request goes out)."""
    return list(
        await conn.fetch(
            f"WITH due AS (SELECT d.id FROM {S}.delivery d "
            f"  JOIN {S}.endpoint e USING (clinic_id) "
            "  WHERE d.status = 'pending' AND e.active AND d.next_attempt_at <= $1 "
            "  ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED) "
            f"UPDATE {S}.delivery d SET next_attempt_at = $3 FROM due, {S}.endpoint e "
            "WHERE d.id = due.id AND e.clinic_id = d.clinic_id "
            "RETURNING d.id, d.notice_id, d.clinic_id, d.body, d.attempts, d.traceparent, e.url, "
            "e.secret_key_id, e.secret_sealed, e.previous_key_id, e.previous_sealed, "
            "e.previous_valid_until",
            now,
            limit,
            lease_end,
        )
    )


async def record(
    conn: Connection,
    results: Sequence[tuple[Row, str, Outcome]],
    now: datetime,
    lease_end: datetime,
) -> None:
    """Each attempt's result, only while the lease is still ours (a worker that overran it
    records nothing); a dead delivery's notice goes to the dead-letter topic through the
    outbox, in the same transaction."""
    for row, result, outcome in results:
        attempts = row["attempts"] + 1
        updated = await conn.fetchval(
            f"UPDATE {S}.delivery SET status = $2, attempts = $3, next_attempt_at = $4, "
            "last_error = $5, "
            "delivered_at = CASE WHEN $2 = 'delivered' THEN $6::timestamptz END "
            "WHERE id = $1 AND status = 'pending' AND next_attempt_at = $7 RETURNING 1",
            row["id"],
            outcome.status,
            attempts,
            outcome.next_attempt_at,
            outcome.error,
            now,
            lease_end,
        )
        if not updated:
            continue
        await conn.execute(
            f"INSERT INTO {S}.attempt (delivery_id, at, outcome) VALUES ($1, $2, $3)",
            row["id"],
            now,
            result,
        )
        if outcome.status == "dead":
            reason = f"webhook delivery failed {attempts} times; last: {result}"
            await dead_letter(conn, row, reason)


async def dead_letter(conn: Connection, row: Any, reason: str) -> None:
    headers = {"dlq_reason": reason, "dlq_service": "alerts", "dlq_source": "webhook"}
    await conn.execute(
        f"INSERT INTO {S}.outbox (topic, key, event_id, value, headers) "
        "VALUES ($1, $2, $3, $4, $5::jsonb)",
        DEAD_LETTER.name,
        row["clinic_id"],
        row["notice_id"],
        bytes(row["body"]),
        json.dumps(headers),
    )


def open_secrets(box: SecretBox, row: Any, now: datetime) -> list[str]:
    clinic = row["clinic_id"]
    secrets = [box.open(Sealed(row["secret_key_id"], bytes(row["secret_sealed"])), clinic)]
    until = row["previous_valid_until"]
    if row["previous_sealed"] is not None and until is not None and now < until:
        previous = Sealed(row["previous_key_id"], bytes(row["previous_sealed"]))
        secrets.append(box.open(previous, clinic))
    return secrets


async def upsert_endpoint(
    conn: Connection, clinic_id: str, url: str, active: bool, sealed: Sealed
) -> bool:
    """True when the endpoint is new (`sealed` is stored); an existing one keeps its secret."""
    created = await conn.fetchval(
        f"INSERT INTO {S}.endpoint (clinic_id, url, secret_key_id, secret_sealed, active) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (clinic_id) DO UPDATE SET url = EXCLUDED.url, "
        "active = EXCLUDED.active, updated_at = now() RETURNING (xmax = 0)",
        clinic_id,
        url,
        sealed.key_id,
        sealed.blob,
        active,
    )
    return bool(created)


async def rotate(
    conn: Connection, clinic_id: str, sealed: Sealed, now: datetime, until: datetime
) -> bool:
    """Makes `sealed` the current secret and the current one the previous, valid until `until`.
    False when the clinic has no endpoint; RotationInProgress while the previous one is still
    valid (rotating again would cut off the secret the clinic may still use)."""
    current = await conn.fetchrow(
        f"SELECT previous_valid_until FROM {S}.endpoint WHERE clinic_id = $1 FOR UPDATE",
        clinic_id,
    )
    if current is None:
        return False
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
    return True


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

"""The gateway's writes, all into its own schema: audit records and accepted commands, each
with its outbox row in one transaction (the relay publishes them)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from datetime import datetime

import asyncpg

from alliance_contracts.access import Caller
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    EventEnvelope,
    ReadAudited,
    ReadAuditedPayload,
    derived_event_id,
)
from alliance_contracts.events.audit import MAX_AUDITED_IDS, MAX_OPERATION_NAME
from alliance_contracts.topics import AUDIT, TopicSpec
from alliance_gateway.adapters.tables import SCHEMA
from alliance_platform.outbox import ENQUEUE_FIRST_FREE_PARAMETER, OutboxMessage, enqueue


class ClientMutationConflict(Exception):
    """The client mutation id was used before for another command."""


def _pages(
    case_ids: list[str], dyad_ids: list[uuid.UUID]
) -> list[tuple[list[str], list[uuid.UUID]]]:
    size = MAX_AUDITED_IDS
    count = max(1, -(-len(case_ids) // size), -(-len(dyad_ids) // size))
    return [
        (case_ids[i * size : (i + 1) * size], dyad_ids[i * size : (i + 1) * size])
        for i in range(count)
    ]


# The read audit's columns, in the order its JSON rows name them.
_AUDIT_COLUMNS = "event_id, at, subject, role, clinic_id, case_ids, dyad_ids, operation, address"


async def record_reads(
    conn: asyncpg.Connection,
    caller: Caller,
    cases: set[tuple[str, str]],
    dyads: set[uuid.UUID],
    operation: str | None,
    address: str | None,
    now: datetime,
) -> None:
    """One append-only record (and one audit event) per clinic whose client data was read, in
    the caller's transaction on `conn` (the operation's own, see adapters/snapshot.py)."""
    by_clinic: dict[str, list[str]] = defaultdict(list)
    for clinic, case in sorted(cases):
        by_clinic[clinic].append(case)
    # The door refuses longer names; cut here too, so an audit event is always bounded.
    operation = operation[:MAX_OPERATION_NAME] if operation else operation
    address = address[:64] if address else address
    events = [
        ReadAudited(
            event_id=uuid.uuid4(),
            clinic_id=clinic,
            case_id=CLINIC_LEVEL_CASE_ID,
            occurred_at=now,
            recorded_at=now,
            payload=ReadAuditedPayload(
                subject=caller.subject,
                role=caller.role.value,
                operation=operation,
                address=address,
                case_ids=case_ids,
                dyad_ids=dyad_ids,
            ),
        )
        for clinic, all_case_ids in by_clinic.items()
        # A large read fills several records, each within the event's bounds.
        for case_ids, dyad_ids in _pages(all_case_ids, sorted(dyads))
    ]
    rows = [
        {
            "event_id": str(e.event_id),
            "at": now.isoformat(),
            "subject": caller.subject,
            "role": caller.role.value,
            "clinic_id": e.clinic_id,
            "case_ids": e.payload.case_ids,
            "dyad_ids": [str(d) for d in e.payload.dyad_ids],
            "operation": operation,
            "address": address,
        }
        for e in events
    ]
    # The records and their events in one statement (one round trip per audited operation).
    await enqueue(
        conn,
        SCHEMA,
        [OutboxMessage(AUDIT, e) for e in events],
        f"INSERT INTO {SCHEMA}.read_audit ({_AUDIT_COLUMNS}) SELECT {_AUDIT_COLUMNS} "
        f"FROM json_to_recordset(${ENQUEUE_FIRST_FREE_PARAMETER}::json) AS r(event_id uuid, "
        "at timestamptz, subject text, role text, clinic_id text, case_ids text[], "
        "dyad_ids uuid[], operation text, address text)",
        json.dumps(rows),
    )


def command_id(caller: Caller, client_mutation_id: str) -> uuid.UUID:
    """Deterministic: the same client mutation id is the same command (and event)."""
    return derived_event_id("command", caller.subject, client_mutation_id)


async def accept_command(
    pool: asyncpg.Pool,
    caller: Caller,
    client_mutation_id: str,
    event: EventEnvelope,
    topic: TopicSpec,
    fingerprint_of: str,
) -> bool:
    """Stores the command with its outbox row. Returns True when it is a repeat."""
    fingerprint = hashlib.sha256(fingerprint_of.encode()).hexdigest()
    async with pool.acquire() as conn, conn.transaction():
        inserted = await conn.fetchval(
            f"INSERT INTO {SCHEMA}.command (event_id, subject, client_mutation_id, fingerprint, "
            "event) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING RETURNING event_id",
            event.event_id,
            caller.subject,
            client_mutation_id,
            fingerprint,
            event.model_dump_json(),
        )
        if inserted is not None:
            await enqueue(conn, SCHEMA, [OutboxMessage(topic, event)])
            return False
        original = await conn.fetchval(
            f"SELECT fingerprint FROM {SCHEMA}.command WHERE subject = $1 AND "
            "client_mutation_id = $2",
            caller.subject,
            client_mutation_id,
        )
    if original != fingerprint:
        raise ClientMutationConflict(client_mutation_id)
    return True


async def audit_trail(
    pool: asyncpg.Pool, clinic_id: str, first: int, before_id: int | None
) -> list[asyncpg.Record]:
    return await pool.fetch(
        f"SELECT id, at, subject, role, case_ids, dyad_ids, operation, address "
        f"FROM {SCHEMA}.read_audit WHERE clinic_id = $1 AND ($2::bigint IS NULL OR id < $2) "
        "ORDER BY id DESC LIMIT $3",
        clinic_id,
        before_id,
        first,
    )

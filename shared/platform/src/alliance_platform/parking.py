"""Parked records: a record that waits for something (e.g. a configuration version not
consumed yet) is stored in table `parked` of the consumer's projection schema with what it
waits for and why, and its partition flows on. A later record of the same key parks behind it
(each case keeps its order). The pipeline (`consumer.py`) retries a key's parked records, in
order, once its first one's wait is over, and dead-letters a first one that waited too long.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from alliance_platform.dead_letters import Source
from alliance_platform.outbox import Connection

if TYPE_CHECKING:
    from alliance_platform.tracking import Delivered, Waits

log = logging.getLogger(__name__)

# `waiting_for` of a record parked only because an earlier record of its key is.
KEY_ORDER = "key-order"


async def park_waiting(
    conn: Connection, schema: str, waits: Waits, delivered: Sequence[Delivered[Any]]
) -> list[Delivered[Any]]:
    """Parks the records that wait (or whose key has parked records) in the caller's
    transaction; returns the others, in their order."""
    keyed = {(d.source.topic, d.source.key) for d in delivered if d.source.key is not None}
    rows = await conn.fetch(
        f"SELECT topic, key FROM {schema}.parked "
        "WHERE topic = ANY($1::text[]) AND key = ANY($2::bytea[]) FOR UPDATE",
        list({t for t, _ in keyed}),
        list({k for _, k in keyed}),
    )
    blocked = {(r["topic"], r["key"]) for r in rows}
    needs = {id(d): waits.needs(d.event) for d in delivered}
    missing = await waits.missing(conn, schema, {n for n in needs.values() if n is not None})
    flowing: list[Delivered[Any]] = []
    parked: list[tuple[Source, str, str]] = []
    for d in delivered:
        need, key = needs[id(d)], (d.source.topic, d.source.key)
        if need is not None and need in missing:
            parked.append((d.source, need, "not consumed yet"))
        elif key in blocked:
            parked.append((d.source, KEY_ORDER, "behind an earlier parked record of its key"))
        else:
            flowing.append(d)
            continue
        if d.source.key is not None:
            blocked.add(key)
    if parked:
        await conn.executemany(
            f"INSERT INTO {schema}.parked "
            '(topic, partition, "offset", key, waiting_for, reason, value, headers) '
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
            [
                (s.topic, s.partition, s.offset, s.key, waiting_for, reason, s.value,
                 json.dumps({k: v.decode(errors="replace") for k, v in s.headers}))
                for s, waiting_for, reason in parked
            ],
        )  # fmt: skip
        log.info("parked waiting records", extra={"schema": schema, "parked": len(parked)})
    return flowing


@dataclass(frozen=True)
class Parked:
    id: int
    source: Source
    waiting_for: str
    reason: str
    parked_at: datetime


async def parked_heads(conn: Connection, schema: str, topic: str) -> list[Parked]:
    """Each key's first parked record of the topic."""
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (key) * FROM {schema}.parked WHERE topic = $1 ORDER BY key, id",
        topic,
    )
    return [_parked(r) for r in rows]


async def ready_records(
    conn: Connection, schema: str, topic: str, waits: Waits, limit: int = 500
) -> list[Parked]:
    """The parked records of the topic that may be folded now, in park order: per key, those
    up to the first one whose wait is not over."""
    rows = [
        _parked(r)
        for r in await conn.fetch(
            f"SELECT * FROM {schema}.parked WHERE topic = $1 ORDER BY id LIMIT $2", topic, limit
        )
    ]
    missing = await waits.missing(conn, schema, {r.waiting_for for r in rows} - {KEY_ORDER})
    stuck: set[bytes | None] = set()
    ready: list[Parked] = []
    for record in rows:
        key = record.source.key
        if key in stuck or record.waiting_for in missing:
            stuck.add(key)
        else:
            ready.append(record)
    return ready


def expired(heads: Sequence[Parked], now: datetime, timeout: timedelta) -> list[Parked]:
    """First records of their key that waited for something longer than the timeout."""
    return [h for h in heads if h.waiting_for != KEY_ORDER and now - h.parked_at > timeout]


def _parked(row: Any) -> Parked:
    headers = tuple((k, v.encode()) for k, v in json.loads(row["headers"]).items())
    source = Source(
        row["topic"], row["partition"], row["offset"], row["key"], row["value"], headers
    )
    return Parked(row["id"], source, row["waiting_for"], row["reason"], row["parked_at"])

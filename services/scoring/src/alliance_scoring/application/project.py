"""Use case: fold a batch of responses into the dyad projections, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
from alliance_shared.events import ResponseSubmitted
from alliance_shared.outbox import OutboxMessage, claim_new_events, enqueue
from alliance_shared.topics import SCORED

from alliance_scoring.adapters.store import insert_scores, load_dyads, save_dyads
from alliance_scoring.adapters.tables import SCHEMA
from alliance_scoring.domain.dyads import apply, score


async def project_batch(
    pool: asyncpg.Pool, events: Sequence[ResponseSubmitted], now: Callable[[], datetime]
) -> int:
    """Scores the new events of the batch and folds them into their dyads. Events already
    processed (redeliveries) change nothing. Returns the number of new events."""
    recorded_at = now()
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        if not fresh:
            return 0
        scored = [score(e, recorded_at) for e in fresh]
        states = await load_dyads(conn, {s.payload.dyad.dyad_id for s in scored})
        for s in scored:
            states[s.payload.dyad.dyad_id] = apply(states.get(s.payload.dyad.dyad_id), s)
        await save_dyads(conn, states.values(), recorded_at)
        await insert_scores(conn, scored)
        await enqueue(conn, SCHEMA, [OutboxMessage(SCORED.name, s.case_id, s) for s in scored])
    return len(fresh)

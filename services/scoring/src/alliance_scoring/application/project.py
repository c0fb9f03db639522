"""Use case: fold a batch of case events into the case projections, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg
from alliance_shared.clinical_config import ClinicalConfig
from alliance_shared.events import CaseInput, EventEnvelope, ResponseScored, ResponseSubmitted
from alliance_shared.outbox import OutboxMessage, claim_new_events, enqueue
from alliance_shared.topics import SCORED

from alliance_scoring.adapters.store import insert_scores, load_cases, save_cases
from alliance_scoring.adapters.tables import SCHEMA
from alliance_scoring.domain.case import apply, decide, new_case
from alliance_scoring.domain.dyads import score


async def project_batch(
    pool: asyncpg.Pool,
    events: Sequence[CaseInput],
    now: Callable[[], datetime],
    config_for: Callable[[str], ClinicalConfig],
) -> int:
    """Scores the new events of the batch and folds them into their cases, publishing the
    scored responses and the derived signals. Events already processed (redeliveries) change
    nothing. Returns the number of new events."""
    recorded_at = now()
    async with pool.acquire() as conn, conn.transaction():
        fresh = await claim_new_events(conn, SCHEMA, events)
        if not fresh:
            return 0
        cases = await load_cases(conn, {e.case_id for e in fresh})
        scored: list[ResponseScored] = []
        published: list[EventEnvelope] = []
        for event in fresh:  # in partition order: each case's events in their order
            before = cases.get(event.case_id) or new_case(event.clinic_id, event.case_id)
            config = config_for(event.clinic_id)
            result = score(event, recorded_at) if isinstance(event, ResponseSubmitted) else None
            after = apply(before, event, result, config)
            cases[event.case_id] = after
            if result is not None:
                scored.append(result)
                published.append(result)
            published.extend(decide(before, after, event, result, config))
        await save_cases(conn, cases.values(), recorded_at)
        await insert_scores(conn, scored)
        await enqueue(conn, SCHEMA, [OutboxMessage(SCORED.name, e.case_id, e) for e in published])
    return len(fresh)

"""Use case: apply the alert rules to a batch of scored responses, in one transaction."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from alliance_alerts.adapters.store import insert_alerts, open_alert_kinds
from alliance_alerts.adapters.tables import SCHEMA
from alliance_alerts.domain.rules import AlertConfig, decide
from alliance_shared.events import AlertRaised, ResponseScored, ScoringOutput
from alliance_shared.outbox import OutboxMessage, claim_new_events, enqueue
from alliance_shared.topics import NOTICES


async def raise_alerts(
    pool: asyncpg.Pool, events: Sequence[ScoringOutput], config: AlertConfig
) -> int:
    """Returns the number of alerts raised. Redelivered events change nothing."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await claim_new_events(conn, SCHEMA, events)
        # Clinical signals are recorded as processed; their alert rules come with issue 4.
        fresh = [e for e in claimed if isinstance(e, ResponseScored)]
        if not fresh:
            return 0
        open_kinds = await open_alert_kinds(conn, {e.payload.dyad.dyad_id for e in fresh})
        raised: list[AlertRaised] = []
        for event in fresh:
            kinds = open_kinds[event.payload.dyad.dyad_id]
            alert = decide(event, kinds, config)
            if alert is not None:
                kinds.add(alert.payload.kind)
                raised.append(alert)
        await insert_alerts(conn, raised)
        await enqueue(conn, SCHEMA, [OutboxMessage(NOTICES.name, a.case_id, a) for a in raised])
    return len(raised)

"""Alerts' own Prometheus metrics (decision 0024; the shared ones are in
alliance_platform.metrics)."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import Counter

from alliance_alerts.domain.webhooks import Outcome
from alliance_contracts.events import AlertNotice

ALERT_TRANSITIONS = Counter(
    "alliance_alert_transitions",
    "Alert transitions by alert kind and action (raised, escalated, resolved, auto_resolved, "
    "...), counted as alerts consumes its notices (at least once: a redelivery after a crash "
    "counts again).",
    ["kind", "action"],
)
WEBHOOK_ATTEMPTS = Counter(
    "alliance_webhook_attempts",
    "Webhook delivery attempts by outcome: delivered, retrying (failed, tried again later), "
    "dead (failed its last attempt: dead-lettered).",
    ["outcome"],
)
_OUTCOME = {"delivered": "delivered", "pending": "retrying", "dead": "dead"}


def count_transitions(notices: Sequence[AlertNotice]) -> None:
    for notice in notices:
        ALERT_TRANSITIONS.labels(notice.payload.kind.value, notice.payload.action.value).inc()


def count_attempts(outcomes: Sequence[Outcome]) -> None:
    for outcome in outcomes:
        WEBHOOK_ATTEMPTS.labels(_OUTCOME.get(outcome.status, outcome.status)).inc()

"""Kafka topics: names, partitions and retention, provisioned explicitly (auto-creation is off)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alliance_contracts.events import (
    AlertClockEvent,
    AlertCommand,
    AlertNotice,
    CaseInput,
    ClinicInput,
    EventEnvelope,
    IntakeCommand,
    ReadAudited,
    ScoringOutput,
)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    # Source topics are the system of record: full history, no time-based retention.
    full_history: bool
    description: str
    # The one service that writes to it (the dead-letter topic aside: every consumer may).
    producer: str
    # What its records are keyed by: one case's (or clinic's) events stay ordered on one
    # partition. Dead letters keep their original key.
    key: Literal["case", "clinic", "original"]
    # The services that read it in consumer groups (each dead-letters what it cannot read), and
    # those that only watch it without a group; what the Kafka ACLs grant (`kafka_acls`).
    consumers: tuple[str, ...] = ()
    watchers: tuple[str, ...] = ()
    config: dict[str, str] = field(default_factory=dict)

    def key_of(self, event: EventEnvelope) -> str:
        if self.key == "original":
            raise ValueError(f"{self.name}: records keep their original key")
        return event.case_id if self.key == "case" else event.clinic_id

    def topic_config(self) -> dict[str, str]:
        retention = {"retention.ms": "-1", "retention.bytes": "-1"} if self.full_history else {}
        return {**retention, **self.config}


RESPONSES = TopicSpec(
    "alliance.responses.v1",
    True,
    "Questionnaire responses and episode endings accepted by intake (key: case id). "
    "Producer: intake.",
    "intake",
    "case",
    consumers=("scoring",),
)
SCORED = TopicSpec(
    "alliance.scored.v1",
    True,
    "Scored responses, derived clinical events and their withdrawals (key: case id). "
    "Producer: scoring.",
    "scoring",
    "case",
    consumers=("alerts",),
)
CONFIG = TopicSpec(
    "alliance.config.v1",
    True,
    "Clinic configuration, staff roster and case assignments (key: clinic id). Producer: intake.",
    "intake",
    "clinic",
    consumers=("scoring", "alerts"),
)
COMMANDS = TopicSpec(
    "alliance.commands.v1",
    True,
    "Users' commands on alerts (key: case id). Producer: gateway.",
    "gateway",
    "case",
    consumers=("alerts",),
)
INTAKE_COMMANDS = TopicSpec(
    "alliance.intake-commands.v1",
    True,
    "Users' requests that intake owns: episode endings, case assignments, corrections and "
    "voids of responses (key: case id). "
    "Producer: gateway.",
    "gateway",
    "case",
    consumers=("intake",),
)
NOTICES = TopicSpec(
    "alliance.notices.v1",
    True,
    "Alerts raised for clinicians (key: case id). Producer: alerts.",
    "alerts",
    "case",
    consumers=("alerts",),
    watchers=("gateway",),
)
# The alerts service's clock decides time-driven transitions from its projection; recorded here,
# a replay of the projection repeats them instead of deciding them again.
ALERT_CLOCK = TopicSpec(
    "alliance.alert-clock.v1",
    True,
    "Time-driven transitions of alerts as the alerts service's clock decided them (escalations), "
    "applied by its consumer like any other input (key: case id). Producer: alerts.",
    "alerts",
    "case",
    consumers=("alerts",),
)
AUDIT = TopicSpec(
    "alliance.audit.v1",
    True,
    "Reads of client-level data through the gateway (key: clinic id). Producer: gateway.",
    "gateway",
    "clinic",
)
DEAD_LETTER = TopicSpec(
    "alliance.deadletter.v1",
    True,
    "Messages no consumer could read, with the reason in headers (key: original key). "
    "Producer: every consumer, for its own records (header dlq_service).",
    "*",
    "original",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RESPONSES,
    CONFIG,
    SCORED,
    COMMANDS,
    INTAKE_COMMANDS,
    NOTICES,
    ALERT_CLOCK,
    AUDIT,
    DEAD_LETTER,
)


# What each topic's records are (its event union): what a redriven dead letter must validate as.
_EVENTS: dict[str, Any] = {
    RESPONSES.name: CaseInput,
    CONFIG.name: ClinicInput,
    SCORED.name: ScoringOutput,
    COMMANDS.name: AlertCommand,
    ALERT_CLOCK.name: AlertClockEvent,
    INTAKE_COMMANDS.name: IntakeCommand,
    NOTICES.name: AlertNotice,
    AUDIT.name: ReadAudited,
}


def event_union(topic: str) -> Any:
    """The type (an annotated union, or one event model) of a topic's records."""
    try:
        return _EVENTS[topic]
    except KeyError:
        raise ValueError(f"{topic}: no event type is declared for this topic") from None

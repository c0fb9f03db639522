"""Kafka topics: names, partitions and retention, provisioned explicitly (auto-creation is off)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TopicSpec:
    name: str
    # Source topics are the system of record: full history, no time-based retention.
    full_history: bool
    description: str
    config: dict[str, str] = field(default_factory=dict)

    def topic_config(self) -> dict[str, str]:
        retention = {"retention.ms": "-1", "retention.bytes": "-1"} if self.full_history else {}
        return {**retention, **self.config}


RESPONSES = TopicSpec(
    "alliance.responses.v1", True, "Questionnaire responses accepted by intake (key: case id)."
)
SCORED = TopicSpec(
    "alliance.scored.v1", True, "Scored responses and derived clinical events (key: case id)."
)
CONFIG = TopicSpec("alliance.config.v1", True, "Clinic configuration changes (key: clinic id).")
COMMANDS = TopicSpec(
    "alliance.commands.v1", True, "Users' commands on alerts, from the gateway (key: case id)."
)
NOTICES = TopicSpec("alliance.notices.v1", True, "Alerts raised for clinicians (key: case id).")
AUDIT = TopicSpec(
    "alliance.audit.v1", True, "Reads of client-level data through the gateway (key: clinic id)."
)
DEAD_LETTER = TopicSpec(
    "alliance.deadletter.v1",
    True,
    "Messages no consumer could read, with the reason in headers (key: original key).",
)

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RESPONSES,
    CONFIG,
    SCORED,
    COMMANDS,
    NOTICES,
    AUDIT,
    DEAD_LETTER,
)

"""The mutations' inputs and their answer: the accepted command."""

from __future__ import annotations

from datetime import datetime

import strawberry

from alliance_contracts.vocabulary import EpisodeEnding
from alliance_gateway.application.commands import Accepted


@strawberry.type(description="A command the owning service will apply; its effect follows.")
class CommandAccepted:
    command_id: strawberry.ID
    client_mutation_id: str
    duplicate: bool = strawberry.field(description="This client mutation id was seen before.")

    @classmethod
    def of(cls, accepted: Accepted) -> CommandAccepted:
        return cls(
            command_id=strawberry.ID(str(accepted.command_id)),
            client_mutation_id=accepted.client_mutation_id,
            duplicate=accepted.duplicate,
        )


@strawberry.input
class AlertCommandInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    note: str | None = None


@strawberry.input
class SnoozeAlertInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    until: datetime
    note: str | None = None


@strawberry.input
class ReassignAlertInput:
    alert_id: strawberry.ID
    client_mutation_id: str
    assignee_id: strawberry.ID
    note: str | None = None


@strawberry.input
class EpisodeEndingInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    therapist_id: strawberry.ID
    ending: EpisodeEnding
    ended_at: datetime
    client_mutation_id: str
    last_session_number: int | None = None


@strawberry.input
class AssignCaseInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    therapist_id: strawberry.ID
    client_mutation_id: str
    transfer: bool = False


@strawberry.input(description="One item's answer; a null value marks a missing item.")
class ItemAnswerInput:
    item: int
    value: float | None


@strawberry.input
class AmendResponseInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    response_id: strawberry.ID = strawberry.field(description="The score's responseId.")
    answers: list[ItemAnswerInput] = strawberry.field(
        description="All the corrected answers (the instrument's item rules apply)."
    )
    reason: str
    client_mutation_id: str


@strawberry.input
class VoidResponseInput:
    clinic_id: strawberry.ID
    case_id: strawberry.ID
    response_id: strawberry.ID = strawberry.field(description="The score's responseId.")
    reason: str
    client_mutation_id: str

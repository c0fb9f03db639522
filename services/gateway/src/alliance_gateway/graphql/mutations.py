"""Mutations: commands that become events (application/commands.py accepts them)."""

from __future__ import annotations

import strawberry

from alliance_gateway.application import commands
from alliance_gateway.application.request import Request, UserError
from alliance_gateway.graphql.types.commands import (
    AlertCommandInput,
    AmendResponseInput,
    AssignCaseInput,
    CommandAccepted,
    EpisodeEndingInput,
    ReassignAlertInput,
    SnoozeAlertInput,
    VoidResponseInput,
)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Acknowledge an alert: you have seen it and act on it.")
    async def acknowledge_alert(
        self, info: strawberry.Info[Request, None], input: AlertCommandInput
    ) -> CommandAccepted:
        accepted = await commands.acknowledge_alert(
            info.context, str(input.alert_id), input.client_mutation_id, input.note
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(description="Resolve an alert, with a note saying how.")
    async def resolve_alert(
        self, info: strawberry.Info[Request, None], input: AlertCommandInput
    ) -> CommandAccepted:
        accepted = await commands.resolve_alert(
            info.context, str(input.alert_id), input.client_mutation_id, input.note
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(description="Snooze an alert until a time (its escalation waits).")
    async def snooze_alert(
        self, info: strawberry.Info[Request, None], input: SnoozeAlertInput
    ) -> CommandAccepted:
        accepted = await commands.snooze_alert(
            info.context, str(input.alert_id), input.client_mutation_id, input.until, input.note
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(description="Reassign an alert to another therapist.")
    async def reassign_alert(
        self, info: strawberry.Info[Request, None], input: ReassignAlertInput
    ) -> CommandAccepted:
        accepted = await commands.reassign_alert(
            info.context,
            str(input.alert_id),
            input.client_mutation_id,
            str(input.assignee_id),
            input.note,
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(description="Record the end of an episode: planned or unilateral.")
    async def record_episode_ending(
        self, info: strawberry.Info[Request, None], input: EpisodeEndingInput
    ) -> CommandAccepted:
        accepted = await commands.record_episode_ending(
            info.context,
            str(input.clinic_id),
            str(input.case_id),
            str(input.therapist_id),
            input.ending,
            input.ended_at,
            input.client_mutation_id,
            input.last_session_number,
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(description="Assign or transfer a case to a therapist.")
    async def assign_case(
        self, info: strawberry.Info[Request, None], input: AssignCaseInput
    ) -> CommandAccepted:
        accepted = await commands.assign_case(
            info.context,
            str(input.clinic_id),
            str(input.case_id),
            str(input.therapist_id),
            input.client_mutation_id,
            input.transfer,
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(
        description="Correct a response's answers (clinic admins): intake checks them, "
        "publishes the amendment and the case is folded again; the original is kept."
    )
    async def amend_response(
        self, info: strawberry.Info[Request, None], input: AmendResponseInput
    ) -> CommandAccepted:
        answers: dict[int, float | None] = {}
        for answer in input.answers:
            if answer.item in answers:
                raise UserError(f"answers: item {answer.item} is given twice")
            answers[answer.item] = answer.value
        accepted = await commands.amend_response(
            info.context,
            str(input.clinic_id),
            str(input.case_id),
            str(input.response_id),
            answers,
            input.reason,
            input.client_mutation_id,
        )
        return CommandAccepted.of(accepted)

    @strawberry.mutation(
        description="Void a response as wrong (clinic admins), e.g. keyed against the wrong "
        "client: the case is folded again without it; the original is kept."
    )
    async def void_response(
        self, info: strawberry.Info[Request, None], input: VoidResponseInput
    ) -> CommandAccepted:
        accepted = await commands.void_response(
            info.context,
            str(input.clinic_id),
            str(input.case_id),
            str(input.response_id),
            input.reason,
            input.client_mutation_id,
        )
        return CommandAccepted.of(accepted)

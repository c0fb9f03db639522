"""Mutations: commands that become events (application/commands.py accepts them)."""

from __future__ import annotations

import strawberry

from alliance_gateway.application import commands
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.types.commands import (
    AlertCommandInput,
    AssignCaseInput,
    CommandAccepted,
    EpisodeEndingInput,
    ReassignAlertInput,
    SnoozeAlertInput,
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

"""Use cases: accept a questionnaire response; record the end of an episode."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import asyncpg

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.instruments import RuleBroken, Violation
from alliance_intake.adapters.repository import (
    latest_config_version,
    store_clinic_event,
    store_configuration,
    store_submission,
)
from alliance_intake.domain.configuration import ConfigurationChange, configured_event, resolve
from alliance_intake.domain.episode import EpisodeEndingSubmission, check_ending, ending_event
from alliance_intake.domain.roster import Assignment, StaffChange, assignment_event, staff_event
from alliance_intake.domain.submission import (
    Accepted,
    ResponseSubmission,
    SubmissionReceipt,
    check_submission,
    to_event,
)


class Rejected(RuleBroken):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.rule}" for v in violations))
        self.violations = violations


async def submit_response(
    pool: asyncpg.Pool,
    submission: ResponseSubmission,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    recorded_at = now()
    violations = check_submission(submission, recorded_at)
    if violations:
        raise Rejected(violations)
    config_version = await latest_config_version(pool, submission.clinic_id)
    accepted = to_event(submission, new_id(), recorded_at, config_version)
    event_id, duplicate = await store_submission(
        pool, submission.clinic_id, submission.idempotency_key, accepted
    )
    return SubmissionReceipt(event_id=event_id, duplicate=duplicate)


async def record_episode_ending(
    pool: asyncpg.Pool,
    submission: EpisodeEndingSubmission,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    recorded_at = now()
    violations = check_ending(submission, recorded_at)
    if violations:
        raise Rejected(violations)
    accepted = ending_event(submission, new_id(), recorded_at)
    event_id, duplicate = await store_submission(
        pool, submission.clinic_id, submission.idempotency_key, accepted
    )
    return SubmissionReceipt(event_id=event_id, duplicate=duplicate)


async def configure_clinic(
    pool: asyncpg.Pool,
    clinic_id: str,
    change: ConfigurationChange,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    """Records the clinic's next configuration version. Invalid overrides raise
    pydantic.ValidationError, which names the field."""
    recorded_at = now()

    def build(version: int, current: ClinicalConfig) -> Accepted:
        config = resolve(current, change.overrides)
        return configured_event(clinic_id, change, version, config, new_id(), recorded_at)

    event_id, duplicate = await store_configuration(pool, clinic_id, change.idempotency_key, build)
    return SubmissionReceipt(event_id=event_id, duplicate=duplicate)


async def change_staff(
    pool: asyncpg.Pool,
    clinic_id: str,
    staff_id: str,
    change: StaffChange,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    accepted = staff_event(clinic_id, staff_id, change, new_id(), now())
    event_id, duplicate = await store_clinic_event(
        pool, clinic_id, change.idempotency_key, accepted
    )
    return SubmissionReceipt(event_id=event_id, duplicate=duplicate)


async def assign_case(
    pool: asyncpg.Pool,
    clinic_id: str,
    case_id: str,
    assignment: Assignment,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    accepted = assignment_event(clinic_id, case_id, assignment, new_id(), now())
    event_id, duplicate = await store_clinic_event(
        pool, clinic_id, assignment.idempotency_key, accepted
    )
    return SubmissionReceipt(event_id=event_id, duplicate=duplicate)

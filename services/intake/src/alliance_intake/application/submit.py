"""Use cases: accept a questionnaire response, an episode ending, a configuration change, a
staff change, a case assignment or a case's demographics. Each is one transaction (see
`ports.IntakeUnitOfWork`): the submission and its outbox row, idempotent per clinic and key;
all but a configuration change are one statement (`record_alone`, decision 0019)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from alliance_contracts.events import ClinicConfigured
from alliance_contracts.instruments import RuleBroken, Violation
from alliance_contracts.topics import CONFIG, RESPONSES, TopicSpec
from alliance_intake.application.ports import IntakeUnitOfWork, Recorded, StaleConfiguration
from alliance_intake.domain.configuration import (
    ChangeConfiguration,
    configured_event,
    resolve,
    too_large,
)
from alliance_intake.domain.demographics import (
    SetDemographics,
    check_demographics,
    demographics_event,
)
from alliance_intake.domain.episode import EndEpisode, check_ending, ending_event
from alliance_intake.domain.roster import AssignCase, ChangeStaff, assignment_event, staff_event
from alliance_intake.domain.submission import (
    Accepted,
    IdempotencyConflict,
    SubmissionReceipt,
    SubmitResponse,
    check_submission,
    to_event,
)
from alliance_platform.outbox import OutboxMessage

# A clinic's configuration changes rarely; a response restamped this often met that many changes
# committed while it was being recorded.
STAMP_ATTEMPTS = 5


class LatestVersions:
    """Each clinic's latest configuration version as this process last saw it (0 when unseen):
    only a hint. A response is stamped with it and recorded only if it is still the latest
    (`record_alone` checks it in the same statement), so a stale hint costs one more statement
    and never stamps an older version (decision 0019)."""

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}

    def of(self, clinic_id: str) -> int:
        return self._versions.get(clinic_id, 0)

    def saw(self, clinic_id: str, version: int) -> None:
        self._versions[clinic_id] = version


class Rejected(RuleBroken):
    def __init__(self, violations: list[Violation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.rule}" for v in violations))
        self.violations = violations


async def submit_response(
    uow: IntakeUnitOfWork,
    submission: SubmitResponse,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    versions: LatestVersions | None = None,
) -> SubmissionReceipt:
    """`versions`: the process's hint of each clinic's latest configuration version."""
    recorded_at = now()
    violations = check_submission(submission, recorded_at)
    if violations:
        raise Rejected(violations)
    versions = versions or LatestVersions()
    clinic_id, event_id = submission.clinic_id, new_id()
    for _ in range(STAMP_ATTEMPTS):
        # Stamped with the clinic's latest version: scoring applies the one in force.
        version = versions.of(clinic_id)
        accepted = to_event(submission, event_id, recorded_at, version)
        message = OutboxMessage(RESPONSES, accepted.event)
        found = await uow.record_alone(
            clinic_id, submission.idempotency_key, accepted, message, version
        )
        if isinstance(found, StaleConfiguration):
            versions.saw(clinic_id, found.latest)
            continue
        return receipt(submission.idempotency_key, accepted, found)
    raise RuntimeError(f"configuration kept changing: not recorded after {STAMP_ATTEMPTS} tries")


async def record_episode_ending(
    uow: IntakeUnitOfWork,
    submission: EndEpisode,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    recorded_at = now()
    violations = check_ending(submission, recorded_at)
    if violations:
        raise Rejected(violations)
    accepted = ending_event(submission, new_id(), recorded_at)
    return await accept(uow, submission.clinic_id, submission.idempotency_key, accepted)


async def configure_clinic(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    change: ChangeConfiguration,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    versions: LatestVersions | None = None,
) -> SubmissionReceipt:
    """Records the clinic's next configuration version, built from the current one under the
    clinic's lock so versions are gapless. Invalid overrides raise pydantic.ValidationError,
    which names the field. `versions` learns the new version once it is committed."""
    recorded_at = now()
    async with uow:
        await uow.configurations.lock(clinic_id)
        current = await uow.configurations.current(clinic_id)
        config = resolve(current.config, change.overrides)
        if violations := too_large(config):
            raise Rejected(violations)
        accepted = configured_event(
            clinic_id, change, current.version + 1, config, new_id(), recorded_at
        )
        receipt = await record(uow, clinic_id, change.idempotency_key, accepted, CONFIG)
        if not receipt.duplicate:
            assert isinstance(accepted.event, ClinicConfigured)
            await uow.configurations.add(accepted.event)
        await uow.commit()
    if versions is not None and not receipt.duplicate:
        versions.saw(clinic_id, current.version + 1)
    return receipt


async def change_staff(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    staff_id: str,
    change: ChangeStaff,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    accepted = staff_event(clinic_id, staff_id, change, new_id(), now())
    return await accept(uow, clinic_id, change.idempotency_key, accepted, CONFIG)


async def assign_case(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    case_id: str,
    assignment: AssignCase,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    accepted = assignment_event(clinic_id, case_id, assignment, new_id(), now())
    return await accept(uow, clinic_id, assignment.idempotency_key, accepted, CONFIG)


async def set_demographics(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    case_id: str,
    change: SetDemographics,
    set_by: str,
    now: Callable[[], datetime],
    new_id: Callable[[], uuid.UUID] = uuid.uuid4,
) -> SubmissionReceipt:
    """The case's age band and/or norm set from a date on, on the responses topic (ordered
    with the case's responses)."""
    recorded_at = now()
    violations = check_demographics(change, recorded_at)
    if violations:
        raise Rejected(violations)
    accepted = demographics_event(clinic_id, case_id, change, set_by, new_id(), recorded_at)
    return await accept(uow, clinic_id, change.idempotency_key, accepted)


async def accept(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    key: str,
    accepted: Accepted,
    topic: TopicSpec = RESPONSES,
) -> SubmissionReceipt:
    """`record` as a transaction of its own (one statement: `record_alone`), for events that
    carry no configuration version."""
    message = OutboxMessage(topic, accepted.event)
    found = await uow.record_alone(clinic_id, key, accepted, message, config_version=None)
    assert isinstance(found, Recorded)  # no version to check: never stale
    return receipt(key, accepted, found)


async def record(
    uow: IntakeUnitOfWork,
    clinic_id: str,
    key: str,
    accepted: Accepted,
    topic: TopicSpec = RESPONSES,
) -> SubmissionReceipt:
    """Records the submission with its outbox row, idempotent on (clinic, key): a repeat
    returns the original event id, other content under the same key conflicts. Case
    submissions (responses, endings) go on the responses topic; clinic events (configuration,
    roster, assignments) on the config topic, ordered per clinic."""
    message = OutboxMessage(topic, accepted.event)
    return receipt(key, accepted, await uow.submissions.record(clinic_id, key, accepted, message))


def receipt(key: str, accepted: Accepted, found: Recorded) -> SubmissionReceipt:
    """The answer, given what the key holds after recording `accepted` under it."""
    if found.event_id == accepted.event.event_id:  # a fresh id: this call recorded it
        return SubmissionReceipt(event_id=found.event_id, duplicate=False)
    if found.fingerprint != accepted.fingerprint:
        raise IdempotencyConflict(key)
    return SubmissionReceipt(event_id=found.event_id, duplicate=True)

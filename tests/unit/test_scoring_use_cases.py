"""Scoring's batch on an in-memory unit of work: one transaction per batch, exactly-once
claims, the scores and signals stored and enqueued in order (the clinical rules themselves:
test_clinical_rules.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    ClinicalSignal,
    ClinicConfigured,
    ClinicConfiguredPayload,
    EventEnvelope,
    ResponseScored,
    ResponseSubmitted,
)
from alliance_contracts.topics import SCORED
from alliance_contracts.vocabulary import SignalKind
from alliance_platform.config_store import ConfigurationNotYetKnown
from alliance_scoring.application.project import project_batch, record_configurations
from tests.unit.clinical import T0, fold, srs_series
from tests.unit.fakes.scoring import FakeScoringUnitOfWork

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CASE = ("clinic-a", "case-1")


def now() -> datetime:
    return NOW


def configured(version: int) -> ClinicConfigured:
    return ClinicConfigured(
        event_id=uuid.uuid4(),
        clinic_id="clinic-a",
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=T0,
        recorded_at=T0,
        payload=ClinicConfiguredPayload(
            version=version,
            effective_from=T0 - timedelta(days=1),
            configuration=DEFAULT_CONFIG.model_dump(mode="json"),
            overrides={},
        ),
    )


async def test_a_response_is_scored_and_its_signals_enqueued_after_it() -> None:
    uow = FakeScoringUnitOfWork()
    events = srs_series("case-1", [38, 38, 38, 38, 38, 38, 30])
    assert await project_batch(uow, events, now) == 7
    expected = fold(events)
    assert SignalKind.RUPTURE_OPENED in expected.kinds()
    assert uow.signals.signals == expected.signals
    assert uow.cases.states[CASE] == expected.state
    assert uow.cases.saved_at[CASE] == NOW
    assert [s.payload.source_event_id for s in uow.scores.scored] == [e.event_id for e in events]
    # Each score, then the signals it caused; all on the scored topic.
    assert all(m.topic == SCORED for m in uow.outbox.messages)
    published: list[EventEnvelope] = []
    for event, scored in zip(events, uow.scores.scored, strict=True):
        caused = [s for s in expected.signals if s.payload.source_event_id == event.event_id]
        published += [scored, *caused]
    assert uow.outbox.events() == published
    assert uow.outbox.events()[-1] == expected.of(SignalKind.RUPTURE_OPENED)[0]
    assert (uow.transactions, uow.commits) == (1, 1)


async def test_a_case_carries_over_from_batch_to_batch() -> None:
    uow = FakeScoringUnitOfWork()
    events = srs_series("case-1", [38, 38, 38, 38, 38, 38, 30])
    await project_batch(uow, events[:4], now)
    await project_batch(uow, events[4:], now)
    assert uow.signals.signals == fold(events).signals
    assert uow.cases.states[CASE] == fold(events).state
    assert (uow.transactions, uow.commits) == (2, 2)


async def test_a_redelivered_batch_changes_nothing() -> None:
    uow = FakeScoringUnitOfWork()
    events = srs_series("case-1", [38, 38, 38, 38, 38, 38, 30])
    await project_batch(uow, events, now)
    enqueued = list(uow.outbox.messages)
    assert await project_batch(uow, events, now) == 0
    assert uow.outbox.messages == enqueued
    assert len(uow.scores.scored) == 7
    assert uow.commits == 1


async def test_repeats_within_a_batch_count_once() -> None:
    uow = FakeScoringUnitOfWork()
    first, second = srs_series("case-1", [38, 36])
    assert await project_batch(uow, [first, first, second, first], now) == 2
    assert [s.payload.source_event_id for s in uow.scores.scored] == [
        first.event_id,
        second.event_id,
    ]
    assert uow.signals.signals == fold([first, second]).signals


async def test_a_batch_waits_for_the_configuration_it_is_stamped_with() -> None:
    uow = FakeScoringUnitOfWork()
    [response] = srs_series("case-1", [30])
    assert isinstance(response, ResponseSubmitted)
    stamped = response.model_copy(update={"config_version": 1})
    with pytest.raises(ConfigurationNotYetKnown):
        await project_batch(uow, [stamped], now)
    # Nothing of it stays, its claim included: the redelivery is processed.
    assert (uow.processed.ids, uow.outbox.messages, uow.commits) == (set(), [], 0)
    assert await record_configurations(uow, [configured(1)]) == 1
    assert await project_batch(uow, [stamped], now) == 1
    # The score, then its signals: an early low alliance and the rupture it opens.
    published = uow.outbox.events()
    assert [type(e) for e in published] == [ResponseScored, ClinicalSignal, ClinicalSignal]
    assert [e.payload.kind for e in published if isinstance(e, ClinicalSignal)] == [
        SignalKind.EARLY_LOW_ALLIANCE,
        SignalKind.RUPTURE_OPENED,
    ]


async def test_configuration_versions_are_recorded_once() -> None:
    uow = FakeScoringUnitOfWork()
    version = configured(1)
    assert await record_configurations(uow, [version, version]) == 1
    assert await record_configurations(uow, [version]) == 0
    assert [v.version for v in uow.configurations.versions["clinic-a"]] == [1]

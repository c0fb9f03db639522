"""Use cases: fold a batch of case events into the case projections, in one transaction;
record clinic configuration versions (see `ports.ScoringUnitOfWork`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import (
    CaseInput,
    ClinicalSignal,
    ClinicConfigured,
    ClinicInput,
    EventEnvelope,
    ResponseScored,
    ResponseSubmitted,
    SignalWithdrawn,
)
from alliance_contracts.topics import SCORED
from alliance_platform.outbox import OutboxMessage
from alliance_scoring.application.ports import CaseKey, ScoringUnitOfWork
from alliance_scoring.domain.case import apply, decide, fold_history, new_case
from alliance_scoring.domain.dyads import demographics_for, score
from alliance_scoring.domain.history import (
    EFFECTIVE,
    Correction,
    Effective,
    diff_signals,
    effective_history,
    order_key,
    sorts_after,
)
from alliance_scoring.domain.state import CaseState


async def record_configurations(uow: ScoringUnitOfWork, events: Sequence[ClinicInput]) -> int:
    async with uow:
        fresh = await uow.processed.claim(events)
        # Rosters and assignments on the config topic are the alerts service's business.
        await uow.configurations.save([e for e in fresh if isinstance(e, ClinicConfigured)])
        await uow.commit()
    return len(fresh)


async def project_batch(
    uow: ScoringUnitOfWork, events: Sequence[CaseInput], now: Callable[[], datetime]
) -> int:
    """Scores the new events of the batch and folds them into their cases, publishing the
    scored responses and the derived signals. A case with a late, amended or voided input folds
    again from its history, and the signals that no longer hold are withdrawn. Events already
    processed (redeliveries) change nothing. Returns the number of new events."""
    recorded_at = now()
    async with uow:
        fresh = await uow.processed.claim(events)
        if not fresh:
            if uow.processed.to_commit:  # parked records or consumed positions
                await uow.commit()
            return 0  # all seen before: nothing to commit
        cases = await uow.cases.get({_key(e) for e in fresh})
        again = _folding_again(cases, fresh)
        history = await uow.inputs.history(again) if again else {}
        await uow.inputs.add(fresh)
        resolve = await uow.configurations.resolver(
            [
                (e.clinic_id, e.config_version)
                for e in (*fresh, *(e for h in history.values() for e in h))
                if isinstance(e, ResponseSubmitted)
            ]
        )

        def config_of(event: Effective) -> ClinicalConfig:
            if isinstance(event, ResponseSubmitted):
                return resolve(event.clinic_id, event.config_version, event.payload.administered_at)
            return DEFAULT_CONFIG

        published: list[EventEnvelope] = []  # each score followed by the signals it caused
        for event in fresh:  # in partition order: each case's events in their order
            key = _key(event)
            if key in again:
                continue
            assert isinstance(event, EFFECTIVE)  # not folding again
            before = cases.get(key) or new_case(event.clinic_id, event.case_id)
            # Scored events keep the response's recorded time: a replay reproduces them exactly.
            config = config_of(event)
            result = _score(event, config, before) if isinstance(event, ResponseSubmitted) else None
            cases[key] = apply(before, event, result, config)
            published.extend([result] if result else [])
            published.extend(decide(before, cases[key], event, result, config))

        published_before = await uow.signals.published(again) if again else {}
        corrections: list[Correction] = []
        withdrawn: list[SignalWithdrawn] = []
        rejudged: list[ResponseScored] = []  # every score of a case folded again, as judged now
        content_of: dict[uuid.UUID, uuid.UUID] = {}
        for key, cause in again.items():
            mine = [e for e in fresh if _key(e) == key]
            effective, corrected = effective_history([*history.get(key, []), *mine])
            folded = fold_history(*key, effective, _score, config_of)
            diff = diff_signals(published_before.get(key, []), folded.signals, cause)
            cases[key] = folded.state
            rejudged.extend(folded.scored)
            corrections.extend(corrected)
            withdrawn.extend(diff.withdrawn)
            content_of.update(diff.content_of)
            new_sources = {e.event_id for e in mine}  # responses and amendments first seen now
            published.extend(diff.withdrawn)
            published.extend(
                e
                for e in _in_order(folded.scored, diff.emitted)
                if not isinstance(e, ResponseScored) or e.payload.source_event_id in new_sources
            )
        await uow.cases.save(cases.values(), recorded_at, refolded=again)
        # A case folded again may judge earlier scores with other demographics: the read model
        # shows each score's clinical range as the case is judged now.
        await uow.scores.add([e for e in published if isinstance(e, ResponseScored)] + rejudged)
        await uow.scores.correct(corrections)
        await uow.signals.add([e for e in published if isinstance(e, ClinicalSignal)], content_of)
        await uow.signals.withdraw(withdrawn)
        await uow.outbox.add([OutboxMessage(SCORED, e) for e in published])
        await uow.commit()
    return len(fresh)


def _key(event: CaseInput) -> CaseKey:
    return (event.clinic_id, event.case_id)


def _score(event: ResponseSubmitted, config: ClinicalConfig, case: CaseState) -> ResponseScored:
    """Scored in the case as folded before it, judged with the case's demographics."""
    return score(event, event.recorded_at, config, demographics_for(case, event))


def _folding_again(
    cases: dict[CaseKey, CaseState], fresh: Sequence[CaseInput]
) -> dict[CaseKey, CaseInput]:
    """The cases of the batch that fold again from their history, each with the first input
    that makes it (its reason): one that does not sort after everything folded before it."""
    again: dict[CaseKey, CaseInput] = {}
    through = {key: s.folded_through for key, s in cases.items()}
    for event in fresh:
        key = _key(event)
        if key in again:
            continue
        if sorts_after(through.get(key), event):
            assert isinstance(event, EFFECTIVE)  # sorts_after
            through[key] = order_key(event)
        else:
            again[key] = event
    return again


def _in_order(
    scored: Sequence[ResponseScored], signals: Sequence[ClinicalSignal]
) -> list[EventEnvelope]:
    """Each score followed by the signals its response caused, as on the in-order path."""
    by_source: dict[object, list[ClinicalSignal]] = {}
    for s in signals:
        by_source.setdefault(s.payload.source_event_id, []).append(s)
    out: list[EventEnvelope] = []
    for e in scored:
        out.append(e)
        out.extend(by_source.pop(e.payload.source_event_id, []))
    out.extend(s for rest in by_source.values() for s in rest)  # endings' signals
    return out

"""A case's history in clinical order, with its corrections applied. Pure.

Inputs arrive in any order (a tablet uploads a day late, an EHR resends last week), and
responses are amended or voided later. The case's state is always the fold of its *effective*
history: every response in the order it was administered (then session number, then event id),
each with its latest amendment's answers, voided ones left out, episode endings at their end
time, demographics changes at their effective date (before any session of that time).
docs/clinical.md, "Histories".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from alliance_contracts.events import (
    CaseDemographicsSet,
    CaseInput,
    ClinicalSignal,
    EpisodeEnded,
    ResponseAmended,
    ResponseSubmitted,
    ResponseVoided,
    SignalWithdrawn,
    SignalWithdrawnPayload,
    derived_event_id,
)
from alliance_contracts.vocabulary import SignalKind, WithdrawalReason

# Where an input sits in the case's clinical order: (when administered, session, when recorded,
# event id). An ending sorts after every session of its time. Forms of one visit often share
# their administration time: among them the order intake recorded them in (which is the order
# they arrive in) comes first, so such a visit does not make the case fold again. A
# demographics change sorts before every session of its time, so it applies to a session
# administered at its effective date.
OrderKey = tuple[datetime, int, datetime, str]
Effective = ResponseSubmitted | EpisodeEnded | CaseDemographicsSet
EFFECTIVE = (ResponseSubmitted, EpisodeEnded, CaseDemographicsSet)
_AFTER_EVERY_SESSION = 10**6
_BEFORE_EVERY_SESSION = 0


def order_key(event: Effective) -> OrderKey:
    match event:
        case ResponseSubmitted(payload=p):
            return (p.administered_at, p.session_number, event.recorded_at, str(event.event_id))
        case EpisodeEnded(payload=ended):
            at, rank = ended.ended_at, _AFTER_EVERY_SESSION
        case CaseDemographicsSet(payload=demographics):
            at, rank = demographics.effective_from, _BEFORE_EVERY_SESSION
    return (at, rank, event.recorded_at, str(event.event_id))


def sorts_after(folded_through: OrderKey | None, event: CaseInput) -> bool:
    """Whether the event can be folded onto a state folded through `folded_through`: a response,
    ending or demographics change that sorts after it. Anything else makes the case fold again
    from its history."""
    if not isinstance(event, EFFECTIVE):
        return False
    return folded_through is None or order_key(event) > folded_through


class AmendedVersion(ResponseSubmitted):
    """A response as its latest amendment left it (never published: folded and scored). Its
    event id is the amendment's; `response_id` the original's, which its score carries."""

    response_id: uuid.UUID


def response_of(event: ResponseSubmitted) -> uuid.UUID:
    """The response a version folded belongs to: the original response.submitted's event id."""
    return event.response_id if isinstance(event, AmendedVersion) else event.event_id


def amended(original: ResponseSubmitted, amendment: ResponseAmended) -> AmendedVersion:
    """The original administration with the corrected answers, in the original's place. It
    takes the amendment's id, so its score and the signals it causes are new events that
    replace the original's."""
    return AmendedVersion.model_construct(  # of a valid event: nothing to check again
        **{
            **dict(original),
            "response_id": original.event_id,
            "event_id": amendment.event_id,
            "payload": original.payload.model_copy(
                update={"answers": dict(amendment.payload.answers)}
            ),
        }
    )


@dataclass(frozen=True, slots=True)
class Correction:
    """A version of a response that no longer counts: the original or an earlier amendment
    (its event id, which is also its score's source), replaced by a later amendment or voided."""

    superseded: uuid.UUID
    by: uuid.UUID  # the amendment or void that replaced it
    voided: bool


def _when(e: ResponseAmended) -> tuple[datetime, str]:
    # The latest correction wins, whatever order they arrive in.
    return (e.recorded_at, str(e.event_id))


def effective_history(inputs: Iterable[CaseInput]) -> tuple[list[Effective], list[Correction]]:
    """The case's effective inputs in clinical order, and the corrections applied. Duplicates
    (the same event id twice) count once; a correction of a response not yet seen waits for it."""
    originals: dict[uuid.UUID, ResponseSubmitted] = {}
    endings: dict[uuid.UUID, EpisodeEnded | CaseDemographicsSet] = {}
    amendments: dict[uuid.UUID, dict[uuid.UUID, ResponseAmended]] = {}
    voids: dict[uuid.UUID, ResponseVoided] = {}
    for event in inputs:
        match event:
            case ResponseSubmitted():
                originals[event.event_id] = event
            case EpisodeEnded() | CaseDemographicsSet():
                endings[event.event_id] = event
            case ResponseAmended():
                amendments.setdefault(event.payload.amends, {})[event.event_id] = event
            case ResponseVoided():
                voids.setdefault(event.payload.voids, event)
    effective: list[Effective] = list(endings.values())
    corrections: list[Correction] = []
    for original_id, original in originals.items():
        versions = [
            original_id,
            *(a.event_id for a in sorted(amendments.get(original_id, {}).values(), key=_when)),
        ]
        void = voids.get(original_id)
        if void is not None:
            corrections.extend(Correction(v, void.event_id, voided=True) for v in versions)
            continue
        latest = versions[-1]
        corrections.extend(Correction(v, latest, voided=False) for v in versions[:-1])
        if latest == original_id:
            effective.append(original)
        else:
            effective.append(amended(original, amendments[original_id][latest]))
    effective.sort(key=order_key)
    return effective, corrections


def refold_reason(event: CaseInput) -> WithdrawalReason:
    """Why a case folds again because of this input."""
    match event:
        case ResponseAmended():
            return WithdrawalReason.RESPONSE_AMENDED
        case ResponseVoided():
            return WithdrawalReason.RESPONSE_VOIDED
        case CaseDemographicsSet():
            return WithdrawalReason.DEMOGRAPHICS_CHANGED
    return WithdrawalReason.LATE_RESPONSE


@dataclass(frozen=True, slots=True)
class PublishedSignal:
    """A signal published for the case: its event id, the id of its content (`Step.signal`;
    they differ only for a signal that holds again after it was withdrawn) and whether it is
    withdrawn."""

    signal_id: uuid.UUID
    content_id: uuid.UUID
    kind: SignalKind
    summary: str
    withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class SignalDiff:
    withdrawn: list[SignalWithdrawn]
    emitted: list[ClinicalSignal]  # in clinical order
    content_of: dict[uuid.UUID, uuid.UUID]  # the emitted signals whose id is not their content's


def diff_signals(
    published: Sequence[PublishedSignal], folded: Sequence[ClinicalSignal], cause: CaseInput
) -> SignalDiff:
    """After a case folds again because of `cause`: the live signals that no longer hold (to
    withdraw, with the reason) and the folded signals not live (to publish). A signal's id
    covers its content, so a changed signal is both. One that holds again after it was
    withdrawn is published under a new id (consumers have seen its old one)."""
    holding = {s.event_id for s in folded}
    live = {s.content_id for s in published if not s.withdrawn}
    reason = refold_reason(cause)
    withdrawn = [
        SignalWithdrawn(
            event_id=derived_event_id("withdrawn", s.signal_id, cause.event_id),
            clinic_id=cause.clinic_id,
            case_id=cause.case_id,
            occurred_at=cause.occurred_at,
            recorded_at=cause.recorded_at,
            payload=SignalWithdrawnPayload(
                signal_id=s.signal_id,
                kind=s.kind,
                reason=reason,
                because_of=cause.event_id,
                summary=f"withdrawn ({reason.value.replace('_', ' ')}): {s.summary}",
            ),
        )
        for s in published
        if not s.withdrawn and s.content_id not in holding
    ]
    seen = {s.content_id for s in published}
    emitted: list[ClinicalSignal] = []
    content_of: dict[uuid.UUID, uuid.UUID] = {}
    for signal in folded:
        if signal.event_id in live:
            continue
        if signal.event_id in seen:
            again = derived_event_id("signal-again", signal.event_id, cause.event_id)
            content_of[again] = signal.event_id
            signal = signal.model_copy(update={"event_id": again})
        emitted.append(signal)
    return SignalDiff(withdrawn, emitted, content_of)

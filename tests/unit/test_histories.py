"""Real histories on scoring's batch (in-memory unit of work): whatever order a case's inputs
arrive in, with duplicates, late responses, amendments and voids, the case folds to the state and
the live signals of its corrected history sent in clinical order (docs/clinical.md, Histories)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from alliance_alerts.application.handlers import apply_scoring
from alliance_alerts.domain.rules import implied
from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import (
    CaseInput,
    ClinicalSignal,
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseScored,
    ResponseSubmitted,
    ResponseVoided,
    ResponseVoidedPayload,
    SignalWithdrawn,
)
from alliance_contracts.vocabulary import SignalKind, WithdrawalReason
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain.case import new_case
from alliance_scoring.domain.state import CaseState
from tests.unit.clinical import demographics, ended, response
from tests.unit.fakes.alerts import FakeAlertsUnitOfWork
from tests.unit.fakes.scoring import FakeScoringUnitOfWork

NOW = datetime(2026, 11, 25, 12, 0)
# Each example runs whole batches: shrinking a failure would take minutes of CI.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def now() -> datetime:
    return NOW


def run(batches: Sequence[Sequence[CaseInput]]) -> FakeScoringUnitOfWork:
    uow = FakeScoringUnitOfWork()

    async def go() -> None:
        for batch in batches:
            await project_batch(uow, batch, now)

    asyncio.run(go())
    return uow


def holding(uow: FakeScoringUnitOfWork) -> dict[uuid.UUID, ClinicalSignal]:
    return {s.event_id: s for s in uow.signals.holding()}


def states(uow: FakeScoringUnitOfWork) -> dict[tuple[str, str], CaseState]:
    """The cases with anything in them (every response of a case voided leaves it empty)."""
    return {k: s for k, s in uow.cases.states.items() if s != new_case(*k)}


def srs(
    case: str, session: int, total: float, role: str = "client", respondent_id: str | None = None
) -> ResponseSubmitted:
    return response(case, session, "SRS", total, role=role, respondent_id=respondent_id)


TOTALS = st.sampled_from([22.0, 28.0, 32.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0, 40.0])


@st.composite
def case_history(draw: st.DrawFn, case: str) -> list[CaseInput]:
    """One case in clinical order: SRS sessions (client, sometimes a parent too), sometimes an
    ORS series (sometimes with an age band on its first response, or a demographics change
    effective at one session), sometimes an ending."""
    sessions = draw(st.integers(min_value=2, max_value=9))
    events: list[CaseInput] = []
    parent = draw(st.booleans())
    outcome = draw(st.booleans())
    band = draw(st.sampled_from([None, "adolescent"])) if outcome else None
    change_at = draw(st.one_of(st.none(), st.integers(1, sessions))) if outcome else None
    for s in range(1, sessions + 1):
        if s == change_at:
            events.append(
                demographics(case, s, age_group="adolescent" if band is None else "adult")
            )
        events.append(srs(case, s, draw(TOTALS)))
        if parent:
            events.append(srs(case, s, draw(TOTALS), role="parent", respondent_id="p-1"))
        if outcome:
            total = draw(st.sampled_from([12.0, 18.0, 24.0, 26.0, 30.0]))
            events.append(response(case, s, "ORS", total, age_group=band if s == 1 else None))
    if draw(st.booleans()):
        events.append(ended(case, draw(st.sampled_from(["planned", "unilateral"])), sessions))
    return events


@st.composite
def arrivals(draw: st.DrawFn, events: Sequence[CaseInput]) -> list[list[CaseInput]]:
    """The events in any order, some twice, cut into batches."""
    shuffled = draw(st.permutations(events))
    repeated = draw(st.lists(st.sampled_from(list(events)), max_size=4)) if events else []
    stream = list(shuffled)
    for e in repeated:
        stream.insert(draw(st.integers(min_value=0, max_value=len(stream))), e)
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=len(stream)), max_size=5)))
    return [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) if b > a]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK
)
@given(data=st.data())
def test_any_arrival_order_folds_to_the_clinical_order(data: st.DataObject) -> None:
    in_order = [*data.draw(case_history("case-a")), *data.draw(case_history("case-b"))]
    expected = run([in_order])
    assert not expected.signals.withdrawn  # in order, nothing is ever taken back
    actual = run(data.draw(arrivals(in_order)))
    assert actual.cases.states == expected.cases.states
    assert holding(actual) == holding(expected)
    published = {e.event_id for e in actual.outbox.events() if isinstance(e, ResponseScored)}
    assert published == {
        e.event_id for e in expected.outbox.events() if isinstance(e, ResponseScored)
    }


def amend(original: ResponseSubmitted, total: float, days: int) -> ResponseAmended:
    fresh = srs(original.case_id, original.payload.session_number, total)
    at = original.recorded_at + timedelta(days=days)
    return ResponseAmended(
        event_id=uuid.uuid4(),
        clinic_id=original.clinic_id,
        case_id=original.case_id,
        occurred_at=at,
        recorded_at=at,
        payload=ResponseAmendedPayload(
            amends=original.event_id,
            answers=fresh.payload.answers,
            reason="keyed from the wrong paper form",
            amended_by="admin-1",
        ),
    )


def void(original: ResponseSubmitted, days: int) -> ResponseVoided:
    at = original.recorded_at + timedelta(days=days)
    return ResponseVoided(
        event_id=uuid.uuid4(),
        clinic_id=original.clinic_id,
        case_id=original.case_id,
        occurred_at=at,
        recorded_at=at,
        payload=ResponseVoidedPayload(
            voids=original.event_id, reason="another client's form", voided_by="admin-1"
        ),
    )


def sent_fresh(original: ResponseSubmitted, amendment: ResponseAmended) -> ResponseSubmitted:
    """What the clinic would have sent had the corrected form been keyed right first time."""
    payload = original.payload.model_copy(update={"answers": amendment.payload.answers})
    return ResponseSubmitted(
        event_id=amendment.event_id,
        clinic_id=original.clinic_id,
        case_id=original.case_id,
        occurred_at=original.occurred_at,
        recorded_at=original.recorded_at,
        payload=payload,
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK
)
@given(data=st.data())
def test_a_corrected_history_folds_like_the_corrected_history_sent_fresh(
    data: st.DataObject,
) -> None:
    sessions = data.draw(st.integers(min_value=2, max_value=9))
    history = [srs("case-a", s, data.draw(TOTALS)) for s in range(1, sessions + 1)]
    corrections: list[CaseInput] = []
    fresh: list[CaseInput] = []
    superseded: dict[uuid.UUID, str] = {}  # every version that no longer counts
    for original in history:
        match data.draw(st.sampled_from(["keep", "amend", "amend twice", "void", "amend, void"])):
            case "keep":
                fresh.append(original)
            case "amend":
                a = amend(original, data.draw(TOTALS), 1)
                corrections.append(a)
                fresh.append(sent_fresh(original, a))
                superseded[original.event_id] = "amended"
            case "amend twice":
                first = amend(original, data.draw(TOTALS), 1)
                last = amend(original, data.draw(TOTALS), 2)
                corrections += [last, first]  # the later one wins whatever the arrival order
                fresh.append(sent_fresh(original, last))
                superseded |= {original.event_id: "amended", first.event_id: "amended"}
            case "void":
                corrections.append(void(original, 1))
                superseded[original.event_id] = "voided"
            case "amend, void":
                a = amend(original, data.draw(TOTALS), 1)
                corrections += [a, void(original, 2)]
                superseded |= {original.event_id: "voided", a.event_id: "voided"}
    expected = run([fresh])
    # Originals arrive first (intake publishes a correction after its original), in any order.
    stream = data.draw(arrivals(history))
    actual = run([*stream, *data.draw(arrivals(corrections))] if corrections else stream)
    assert states(actual) == states(expected)
    assert holding(actual) == holding(expected)
    # Every version that no longer counts is marked so in the scores, and nothing else is.
    assert actual.scores.status == superseded


def test_a_late_dip_opens_the_rupture_it_shows_and_withdraws_what_no_longer_holds() -> None:
    """The example of the issue: session 3's dip arrives after session 4."""
    s1, s2, s3, s4 = (srs("case-a", s, t) for s, t in ((1, 38), (2, 38), (3, 30), (4, 38)))
    late = run([[s1, s2, s4], [s3]])
    in_order = run([[s1, s2, s3, s4]])
    assert late.cases.states == in_order.cases.states
    assert holding(late) == holding(in_order)
    kinds = sorted(s.payload.kind for s in holding(late).values())
    assert SignalKind.RUPTURE_OPENED in kinds
    assert SignalKind.RUPTURE_REPAIRED in kinds
    withdrawn = [e for e in late.outbox.events() if isinstance(e, SignalWithdrawn)]
    assert {w.payload.reason for w in withdrawn} <= {WithdrawalReason.LATE_RESPONSE}
    assert all(w.payload.because_of == s3.event_id for w in withdrawn)


def test_a_voided_response_takes_its_signals_with_it() -> None:
    s1, s2, s3 = (srs("case-a", s, t) for s, t in ((1, 38), (2, 38), (3, 24)))
    uow = run([[s1, s2, s3], [void(s3, 1)]])
    assert all(s.payload.source_event_id != s3.event_id for s in holding(uow).values())
    reasons = {e.payload.reason for e in uow.outbox.events() if isinstance(e, SignalWithdrawn)}
    assert reasons == {WithdrawalReason.RESPONSE_VOIDED}
    assert uow.scores.status == {s3.event_id: "voided"}
    case = ("clinic-a", "case-a")
    assert uow.cases.states[case] == run([[s1, s2]]).cases.states[case]


def test_an_amendments_score_names_the_response_it_is_a_version_of() -> None:
    s1, s2 = srs("case-a", 1, 38), srs("case-a", 2, 30)
    fix = amend(s2, 36, 1)
    uow = run([[s1, s2], [fix], [amend(s1, 39, 2)], [amend(s1, 40, 3)]])
    scored = [e.payload for e in uow.outbox.events() if isinstance(e, ResponseScored)]
    response_of = {p.source_event_id: p.response_id for p in scored}
    assert response_of[s1.event_id] == s1.event_id  # a submission's score: its own
    assert response_of[s2.event_id] == s2.event_id
    assert response_of[fix.event_id] == s2.event_id  # an amendment's: the original's
    assert {p.response_id for p in scored} == {s1.event_id, s2.event_id}


def test_a_score_logged_before_it_named_its_response_reads_and_folds_as_before() -> None:
    s1, s2, s3 = (srs("case-a", s, t) for s, t in ((1, 38), (2, 38), (3, 24)))
    published = run([[s1, s2, s3]]).outbox.events()
    logged = []  # as logged before the amendment of decision 0028: no response_id
    for event in published:
        if isinstance(event, ResponseScored):
            old = event.model_dump(mode="json")
            del old["payload"]["response_id"]
            event = ResponseScored.model_validate(old)
            assert event.payload.response_id is None
            assert event.payload.response == event.payload.source_event_id
        logged.append(event)
    assert open_alerts(alerts_of(logged)) == open_alerts(alerts_of(published)) != set()


def alerts_of(published: Sequence[object]) -> FakeAlertsUnitOfWork:
    uow = FakeAlertsUnitOfWork()
    asyncio.run(apply_scoring(uow, list(published)))  # type: ignore[arg-type]
    return uow


def open_alerts(uow: FakeAlertsUnitOfWork) -> set[tuple[str, str, str]]:
    """What is open, and about what. Not its wording, which may be that of another detection
    of the same thing (the first the service saw), nor whether it was escalated: an escalation
    sent to supervisors under the history known then is not taken back (docs/clinical.md)."""
    return {
        (a.case_id, a.kind.value, a.subject) for a in uow.alerts.by_alert_id.values() if a.is_active
    }


def alerts_after(scoring: FakeScoringUnitOfWork, batch_size: int) -> FakeAlertsUnitOfWork:
    """The alerts service fed scoring's output as published, in batches."""
    uow = FakeAlertsUnitOfWork()
    published = scoring.outbox.events()

    async def go() -> None:
        for i in range(0, len(published), batch_size):
            await apply_scoring(uow, published[i : i + batch_size])  # type: ignore[arg-type]

    asyncio.run(go())
    return uow


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK
)
@given(data=st.data())
def test_open_alerts_are_what_the_live_signals_imply(data: st.DataObject) -> None:
    """Alerts derive only from scoring's signals: after late and corrected responses the open
    alerts are those of the history sent in order, and those the live signals imply."""
    history = data.draw(case_history("case-a"))
    responses = [e for e in history if isinstance(e, ResponseSubmitted)]
    corrections: list[CaseInput] = []
    for original in data.draw(
        st.lists(st.sampled_from(responses), max_size=2, unique_by=lambda e: e.event_id)
    ):
        if data.draw(st.booleans()):
            corrections.append(void(original, 1))
        else:
            corrections.append(amend_like(original, data.draw(TOTALS)))
    messy = run([*data.draw(arrivals(history)), corrections])
    batch = data.draw(st.integers(min_value=1, max_value=20))
    alerts = alerts_after(messy, batch)
    in_order = alerts_after(run([corrected(history, corrections)]), batch)
    assert open_alerts(alerts) == open_alerts(in_order)
    implied_now = implied(list(messy.signals.holding()), lambda s: DEFAULT_CONFIG, None)
    assert {(a.kind.value, a.subject) for a in implied_now.values()} == {
        (kind, subject) for _, kind, subject in open_alerts(alerts)
    }


def amend_like(original: ResponseSubmitted, total: float) -> ResponseAmended:
    """An amendment of any instrument's response: every item answered `total / items`."""
    fresh = response(
        original.case_id,
        original.payload.session_number,
        original.payload.instrument,
        total if original.payload.instrument == "SRS" else 18.0,
        role=original.payload.respondent_role.value,
        respondent_id=original.payload.respondent_id,
    )
    a = amend(original, 0, 1)
    return a.model_copy(
        update={"payload": a.payload.model_copy(update={"answers": fresh.payload.answers})}
    )


def corrected(history: Sequence[CaseInput], corrections: Sequence[CaseInput]) -> list[CaseInput]:
    """The history with its corrections applied, as if keyed right first time."""
    fixes = {
        (c.payload.amends if isinstance(c, ResponseAmended) else c.payload.voids): c
        for c in corrections
        if isinstance(c, ResponseAmended | ResponseVoided)
    }
    out: list[CaseInput] = []
    for e in history:
        fix = fixes.get(e.event_id)
        if fix is None:
            out.append(e)
        elif isinstance(fix, ResponseAmended):
            assert isinstance(e, ResponseSubmitted)
            out.append(sent_fresh(e, fix))
    return out

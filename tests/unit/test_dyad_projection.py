from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from alliance_scoring.domain.dyads import DyadState, UnscorableResponse, apply, dyad_of, score
from alliance_shared.events import RespondentRole, ResponseSubmitted, ResponseSubmittedPayload
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 9, 1, 15, 0, tzinfo=UTC)


def submitted(
    session: int,
    answers: dict[int, float | None],
    *,
    role: str = "client",
    respondent_id: str | None = None,
    instrument: str = "SRS",
    case_id: str = "case-1",
) -> ResponseSubmitted:
    at = T0 + timedelta(weeks=session)
    return ResponseSubmitted(
        event_id=uuid.uuid4(),
        clinic_id="clinic-a",
        case_id=case_id,
        occurred_at=at,
        recorded_at=at,
        payload=ResponseSubmittedPayload(
            therapist_id="th-1",
            respondent_role=RespondentRole(role),
            respondent_id=respondent_id,
            instrument=instrument,
            form="client",
            session_number=session,
            administered_at=at,
            answers=answers,
        ),
    )


def srs(session: int, total_per_item: float, **kw: str) -> ResponseSubmitted:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 5), total_per_item)
    return submitted(session, answers, **kw)


def test_scored_event_id_is_deterministic() -> None:
    event = srs(1, 9.0)
    assert score(event, T0).event_id == score(event, T0 + timedelta(days=1)).event_id


def test_dyads_are_per_therapist_role_and_respondent() -> None:
    child = dyad_of(srs(1, 9.0))
    parent1 = dyad_of(srs(1, 9.0, role="parent", respondent_id="p1"))
    parent2 = dyad_of(srs(1, 9.0, role="parent", respondent_id="p2"))
    assert len({child.dyad_id, parent1.dyad_id, parent2.dyad_id}) == 3
    assert dyad_of(srs(2, 5.0)).dyad_id == child.dyad_id


def test_fold_keeps_count_and_latest_by_administration_time() -> None:
    later, earlier = score(srs(3, 9.0), T0), score(srs(2, 5.0), T0)
    state = apply(apply(None, later), earlier)  # the older response arrives last
    assert state.responses == 2
    assert state.latest["SRS"]["session_number"] == 3
    assert state.latest["SRS"]["total"] == 36.0


def test_invalid_response_is_unscorable() -> None:
    with pytest.raises(UnscorableResponse, match=r"answers\.1"):
        score(srs(1, 11.0), T0)


@given(st.lists(st.tuples(st.integers(1, 30), st.integers(0, 100)), min_size=1, max_size=20))
def test_folding_the_same_events_gives_the_same_state(sessions: list[tuple[int, int]]) -> None:
    events = [score(srs(s, v / 10), T0) for s, v in sessions]

    def fold() -> DyadState | None:
        state = None
        for e in events:
            state = apply(state, e)
        return state

    first, second = fold(), fold()
    assert first == second
    assert first is not None
    assert first.responses == len(events)
    assert 0 <= first.latest["SRS"]["normalized"] <= 1

"""Properties of the pure folds (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import CaseInput, EpisodeEnded, ResponseSubmitted
from alliance_contracts.instruments import REGISTRY, score_response
from alliance_scoring.domain.case import apply, decide, new_case
from alliance_scoring.domain.dyads import score
from alliance_scoring.domain.state import CaseState
from tests.unit.clinical import fold, response

srs_totals = st.lists(st.integers(0, 100).map(lambda x: x * 0.4), min_size=1, max_size=12)


def case_events(case: str, totals: list[float], ors: list[int]) -> list[CaseInput]:
    events: list[CaseInput] = []
    for session, total in enumerate(totals, start=1):
        events.append(response(case, session, "SRS", total))
        if session - 1 < len(ors):
            events.append(response(case, session, "ORS", ors[session - 1] * 0.4))
    return events


@given(srs_totals, st.lists(st.integers(0, 100), max_size=12))
def test_folding_the_same_events_gives_the_same_state(totals: list[float], ors: list[int]) -> None:
    events = case_events("c1", totals, ors)
    first, second = fold(events), fold(events)
    assert first.state == second.state
    assert [s.event_id for s in first.signals] == [s.event_id for s in second.signals]
    assert CaseState.model_validate_json(first.state.model_dump_json()) == first.state


@given(st.sampled_from(sorted(REGISTRY)), st.data())
def test_scores_stay_within_their_bounds(code: str, data: st.DataObject) -> None:
    spec = REGISTRY[code]
    step = 10**-spec.decimals
    steps = int((spec.item_max - spec.item_min) / step)
    answers: dict[int, float | None] = {
        i: round(spec.item_min + data.draw(st.integers(0, steps)) * step, spec.decimals)
        for i in range(1, spec.items + 1)
    }
    result = score_response(code, answers)
    assert spec.total_min <= result.total <= spec.total_max
    assert 0 <= result.normalized <= 1
    for name, items in spec.subscales.items():
        assert len(items) * spec.item_min <= result.subscales[name] <= len(items) * spec.item_max


@settings(max_examples=60)
@given(srs_totals, srs_totals, srs_totals, st.randoms(use_true_random=False))
def test_interleaving_cases_does_not_change_any_case(
    a: list[float], b: list[float], c: list[float], rnd: object
) -> None:
    streams = {
        name: case_events(name, totals, [])
        for name, totals in (("case-a", a), ("case-b", b), ("case-c", c))
    }
    # Merge the three streams in a random order that keeps each case's own order.
    merged: list[CaseInput] = []
    cursors = dict.fromkeys(streams, 0)
    while any(cursors[k] < len(v) for k, v in streams.items()):
        ready = [k for k, v in streams.items() if cursors[k] < len(v)]
        pick = rnd.choice(ready)  # type: ignore[attr-defined]
        merged.append(streams[pick][cursors[pick]])
        cursors[pick] += 1
    states: dict[str, CaseState] = {}
    for event in merged:
        before = states.get(event.case_id) or new_case(event.clinic_id, event.case_id)
        assert isinstance(event, ResponseSubmitted | EpisodeEnded)  # inputs in clinical order
        scored = score(event, event.recorded_at) if isinstance(event, ResponseSubmitted) else None
        after = apply(before, event, scored, DEFAULT_CONFIG)
        decide(before, after, event, scored, DEFAULT_CONFIG)
        states[event.case_id] = after
    for name, events in streams.items():
        assert states[name] == fold(events).state

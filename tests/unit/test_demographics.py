"""Case-level demographics: the age band and OQ-45.2 norm set are case data, set with a response
or by their own event, applying from their effective date (docs/clinical.md, "Histories")."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from alliance_contracts.events import CaseInput, ResponseScored
from alliance_contracts.vocabulary import AgeGroup, SignalKind, WithdrawalReason
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain.state import Demographics
from tests.unit.clinical import T0, demographics, fold, ors, response
from tests.unit.fakes.scoring import FakeScoringUnitOfWork

NOW = datetime(2026, 11, 25, 12, 0)


def project(batches: Sequence[Sequence[CaseInput]]) -> FakeScoringUnitOfWork:
    uow = FakeScoringUnitOfWork()

    async def go() -> None:
        for batch in batches:
            await project_batch(uow, batch, lambda: NOW)

    asyncio.run(go())
    return uow


def bands(scored: Sequence[ResponseScored]) -> dict[int, tuple[float, str | None]]:
    """Each session's recorded cut-off and band."""
    out: dict[int, tuple[float, str | None]] = {}
    for s in scored:
        judged = s.payload.clinical_range
        assert judged is not None
        out[s.payload.session_number] = (judged.cutoff, judged.age_group)
    return out


def test_a_band_sent_with_the_first_response_judges_the_later_ones() -> None:
    # Before: sessions 2 and 3 (no age group) were judged with the adult cut-off 25.
    uow = project([[ors("c1", 1, 20, age_group="adolescent"), ors("c1", 2, 27), ors("c1", 3, 27)]])
    assert bands(uow.scores.scored) == {
        1: (28, "adolescent"),
        2: (28, "adolescent"),
        3: (28, "adolescent"),
    }
    state = uow.cases.states[("clinic-a", "c1")]
    assert state.outcomes["ORS:client"].cutoff == 28
    assert state.outcomes["ORS:client"].outcome_class == "improved"  # 27 < 28: not recovered
    assert state.demographics == Demographics(
        age_group=AgeGroup.ADOLESCENT, effective_from=T0 + timedelta(weeks=1)
    )
    # The pure fold judges the same way.
    teen = fold([ors("c1", 1, 20, age_group="adolescent"), ors("c1", 2, 27)])
    assert teen.state.outcomes["ORS:client"].cutoff == 28


def test_a_change_effective_at_session_3_leaves_sessions_1_and_2_as_judged() -> None:
    history: list[CaseInput] = [
        ors("c1", 1, 20),
        ors("c1", 2, 22),
        demographics("c1", 3, age_group="adolescent"),
        ors("c1", 3, 27),
        ors("c1", 4, 27),
    ]
    uow = project([history])
    assert bands(uow.scores.scored) == {
        1: (25, "adult"),
        2: (25, "adult"),
        3: (28, "adolescent"),
        4: (28, "adolescent"),
    }
    state = uow.cases.states[("clinic-a", "c1")]
    assert state.outcomes["ORS:client"].cutoff == 28
    assert state.outcomes["ORS:client"].outcome_class == "improved"
    adult = project([[ors("c1", 1, 20), ors("c1", 2, 22), ors("c1", 3, 27), ors("c1", 4, 27)]])
    assert adult.cases.states[("clinic-a", "c1")].outcomes["ORS:client"].outcome_class == (
        "recovered"  # 27 >= 25, reliable improvement of 7
    )


def test_a_response_band_and_a_later_event_each_apply_from_their_date() -> None:
    run = fold(
        [
            ors("c1", 1, 20, age_group="child"),
            demographics("c1", 2, age_group="adult"),
            ors("c1", 2, 26),
        ]
    )
    assert run.state.outcomes["ORS:client"].cutoff == 25
    assert run.state.demographics.age_group is AgeGroup.ADULT


def test_a_case_norm_set_overrides_the_clinics() -> None:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), 2)
    oq = [response("c1", s, "OQ-45.2", 0, answers=answers) for s in (1, 2)]
    uow = project([[oq[0], demographics("c1", 2, oq_norm_set="NL"), oq[1]]])
    ranges = {s.payload.session_number: s.payload.clinical_range for s in uow.scores.scored}
    assert ranges[1] is not None
    assert (ranges[1].cutoff, ranges[1].norm_set) == (63, "US")
    assert ranges[2] is not None
    assert (ranges[2].cutoff, ranges[2].norm_set) == (56, "NL")
    state = uow.cases.states[("clinic-a", "c1")]
    assert state.outcomes["OQ-45.2:client"].cutoff == 56
    assert state.outcomes["OQ-45.2:client"].reliable_change == 18
    assert state.demographics.oq_norm_set == "NL"


def test_a_late_demographics_event_refolds_the_case() -> None:
    on_time = [ors("c1", 1, 20), ors("c1", 2, 22), ors("c1", 3, 27), ors("c1", 4, 27)]
    change = demographics("c1", 3, age_group="adolescent", recorded_days_later=30)
    late = project([on_time, [change]])
    in_order = project([[*on_time[:2], change, *on_time[2:]]])
    key = ("clinic-a", "c1")
    assert late.cases.states[key].outcomes == in_order.cases.states[key].outcomes
    assert late.cases.states[key].demographics == in_order.cases.states[key].demographics
    assert late.cases.states[key].outcomes["ORS:client"].outcome_class == "improved"
    assert {s.event_id for s in late.signals.holding()} == {
        s.event_id for s in in_order.signals.holding()
    }
    # Recovered under the adult cut-off, the case was ready for termination; not any more.
    withdrawn = {(w.payload.kind, w.payload.reason) for w in late.signals.withdrawn.values()}
    assert withdrawn == {
        (SignalKind.TERMINATION_READY, WithdrawalReason.DEMOGRAPHICS_CHANGED),
        (SignalKind.PHASE_CHANGED, WithdrawalReason.DEMOGRAPHICS_CHANGED),
    }

    # The scores from the change on show the band they are judged with now (the last write of
    # each score wins in the read model), as they do when the change arrived in time.
    def ranges(uow: FakeScoringUnitOfWork) -> dict[int, object]:
        last = {e.payload.source_event_id: e.payload for e in uow.scores.scored}
        return {p.session_number: p.clinical_range for p in last.values()}

    assert ranges(late) == ranges(in_order)
    assert ranges(late)[3] != ranges(late)[2]

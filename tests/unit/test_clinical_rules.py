"""Scenario tests for every clinical rule, through the pure folds (see docs/clinical.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ClinicalConfig
from alliance_contracts.events import CaseInput, PhaseChange
from alliance_contracts.vocabulary import Phase, RuleName, SignalKind
from tests.unit.clinical import ended, fold, ors, response, srs_series

K = SignalKind


def wai(case: str, session: int, total: int, role: str = "client") -> CaseInput:
    """A WAI-SR response with the given total (12 items, 1-5)."""
    base, extra = divmod(total, 12)
    answers: dict[int, float | None] = {
        i: float(base + (1 if i <= extra else 0)) for i in range(1, 13)
    }
    return response(case, session, "WAI-SR", total, role=role, answers=answers)


def only(*rules: str) -> ClinicalConfig:
    every = ["below_cutoff", "drop_from_previous", "reliable_drop", "sudden_loss"]
    return DEFAULT_CONFIG.model_copy(update={"rules_enabled": {r: r in rules for r in every}})


def test_srs_below_cutoff_opens_a_low_rupture_with_its_evidence() -> None:
    run = fold(srs_series("c1", [38, 38, 34]), only("below_cutoff"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.session_number == 3
    assert opened.payload.severity == "low"
    [evidence] = opened.payload.evidence
    assert (evidence.rule, evidence.threshold) == ("below_cutoff", 36)
    assert evidence.inputs == {"total": 34.0, "session_number": 3}
    assert "Duncan" in evidence.citation


def test_srs_one_point_drop_opens_a_rupture_above_the_cutoff() -> None:
    run = fold(srs_series("c1", [39.2, 38]), only("drop_from_previous"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.evidence[0].inputs["drop"] == pytest.approx(1.2)
    assert fold(srs_series("c1", [39.2, 38.4]), only("drop_from_previous")).signals == []


def test_v_shaped_rupture_is_repaired_when_the_score_returns() -> None:
    run = fold(srs_series("c1", [38, 38, 30, 34, 38]))
    assert run.kinds().count(K.RUPTURE_OPENED) == 1
    [repaired] = run.of(K.RUPTURE_REPAIRED)
    assert repaired.payload.session_number == 5
    assert repaired.payload.evidence[0].inputs == {
        "opened_session": 3,
        "repaired_session": 5,
        "pre_rupture_level": 38.0,
    }
    [dyad] = run.state.dyads.values()
    assert [r.status for r in dyad.ruptures] == ["repaired"]


def test_rupture_without_repair_escalates_after_the_window() -> None:
    run = fold(srs_series("c1", [38, 30, 30, 30, 30, 30, 30, 30]))
    [escalated] = run.of(K.RUPTURE_ESCALATED)
    assert escalated.payload.session_number == 2 + 6
    assert escalated.payload.severity == "high"
    [dyad] = run.state.dyads.values()
    assert dyad.ruptures[0].status == "unresolved"
    # An unresolved rupture still counts as open and can still be repaired.
    later = fold(srs_series("c1", [38, 30, 30, 30, 30, 30, 30, 30, 38]))
    assert K.RUPTURE_REPAIRED in later.kinds()


def test_reliable_drop_uses_the_stricter_sd_lenient_and_strict() -> None:
    # Course 50, 52, 51: mean 51, own SD 1; the floor (5% of 48 = 2.4) is stricter.
    lenient = fold([wai("c", 1, 50), wai("c", 2, 52), wai("c", 3, 51), wai("c", 4, 48)])
    [opened] = lenient.of(K.RUPTURE_OPENED)
    assert opened.payload.severity == "moderate"
    evidence = opened.payload.evidence[0]
    assert evidence.rule == "reliable_drop"
    assert evidence.inputs["sd_used"] == 2.4
    assert evidence.inputs["own_sd"] == 1.0
    strict = fold([wai("c", 1, 50), wai("c", 2, 52), wai("c", 3, 51), wai("c", 4, 46)])
    assert strict.of(K.RUPTURE_OPENED)[0].payload.severity == "high"
    small = fold([wai("c", 1, 50), wai("c", 2, 52), wai("c", 3, 51), wai("c", 4, 49)])
    assert small.signals == []


def test_clinic_sample_sd_can_be_stricter_than_the_dyads_own() -> None:
    config = DEFAULT_CONFIG.model_copy(
        update={
            "alliance_sample_sd": {
                "WAI-SR": DEFAULT_CONFIG.sd_floor_share_of_range.model_copy(update={"value": 4.0})
            }
        }
    )
    run = fold([wai("c", 1, 50), wai("c", 2, 52), wai("c", 3, 51), wai("c", 4, 48)], config)
    assert run.signals == []


def test_sudden_loss_is_found_two_sessions_after_the_drop() -> None:
    totals = [36.8, 37.2, 36.8, 26, 26.4, 26]
    run = fold(srs_series("c1", totals), only("sudden_loss"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.session_number == 4  # dated at the drop
    [evidence] = opened.payload.evidence
    assert evidence.rule == "sudden_loss"
    assert evidence.inputs["critical_value"] == 2.776
    assert evidence.inputs["n_pre"] == 3 and evidence.inputs["n_post"] == 3  # noqa: PT018
    assert opened.event_id in {s.event_id for s in run.signals}
    assert [s.payload.session_number for s in run.of(K.RUPTURE_OPENED)] == [4]


def test_sudden_loss_critical_value_with_a_missing_session() -> None:
    events = [
        response("c1", s, "SRS", t)
        for s, t in [(1, 36.8), (2, 37.2), (3, 36.8), (4, 26), (6, 26.4), (7, 26)]
    ]
    run = fold(events, only("sudden_loss"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.evidence[0].inputs["critical_value"] == 3.182


def test_sudden_loss_takes_the_last_administration_of_a_session() -> None:
    """A session rated twice (an SRS given again) counts once, with its last rating: the pre
    and post windows are sessions, so Student's t keeps its 2-4 degrees of freedom."""
    rated = [(1, 36.8), (2, 20.0), (2, 37.2), (3, 36.8), (4, 26), (5, 26.4), (6, 26)]
    events = []
    for minute, (session, total) in enumerate(rated):
        event = response("c1", session, "SRS", total)
        later = event.payload.administered_at + timedelta(minutes=minute)  # 20.0 comes first
        payload = event.payload.model_copy(update={"administered_at": later})
        events.append(event.model_copy(update={"payload": payload}))
    run = fold(events, only("sudden_loss"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.session_number == 4
    inputs = opened.payload.evidence[0].inputs
    assert (inputs["n_pre"], inputs["n_post"], inputs["critical_value"]) == (3, 3, 2.776)
    assert inputs["pre_mean"] == pytest.approx(36.933, abs=0.001)  # session 2 counts as 37.2


def test_sudden_loss_needs_a_drop_of_a_quarter() -> None:
    run = fold(srs_series("c1", [36.8, 37.2, 36.8, 30.8, 30.4, 30.8]), only("sudden_loss"))
    assert run.of(K.RUPTURE_OPENED) == []  # 6 points is under 25% of 36.8


def test_ruptures_are_tracked_per_respondent() -> None:
    events = [
        response("c1", 1, "SRS", 38),
        response("c1", 1, "SRS", 38, role="parent", respondent_id="p1"),
        response("c1", 2, "SRS", 38),
        response("c1", 2, "SRS", 30, role="parent", respondent_id="p1"),
    ]
    run = fold(events, only("below_cutoff"))
    [opened] = run.of(K.RUPTURE_OPENED)
    assert opened.payload.dyad is not None
    assert opened.payload.dyad.respondent_role.value == "parent"


def test_child_parent_split_on_the_common_scale() -> None:
    events = [
        response("c1", 1, "CSRS", 38),
        response("c1", 1, "SRS", 39.2, role="parent", respondent_id="p1"),
        response("c1", 2, "CSRS", 28),
        response("c1", 2, "SRS", 39.2, role="parent", respondent_id="p1"),
    ]
    run = fold(events)
    [split] = run.of(K.SPLIT_DETECTED)
    assert split.payload.evidence[0].inputs["gap"] == pytest.approx((39.2 - 28) / 40, abs=1e-3)
    [state] = run.state.splits
    assert state.active
    assert split.payload.split is not None
    assert (split.payload.split.child_dyad_id, split.payload.split.parent_dyad_id) == (
        state.child_dyad_id,
        state.parent_dyad_id,
    )


def test_split_when_one_side_is_below_its_cutoff_and_the_other_fine() -> None:
    events = [
        response("c1", 1, "SRS", 35.2, role="client"),
        response("c1", 1, "SRS", 38.4, role="parent", respondent_id="p1"),
    ]
    run = fold(events)
    [split] = run.of(K.SPLIT_DETECTED)
    assert "child: open rupture" in str(split.payload.evidence[0].inputs["reason"])


def test_client_therapist_discrepancy_on_wai_sr() -> None:
    run = fold([wai("c1", 3, 48), wai("c1", 3, 36, role="therapist")])
    client = next(d for d in run.state.dyads.values() if d.dyad.respondent_role.value == "client")
    assert client.discrepancy == pytest.approx(0.75 - 0.5)


def test_recovery_and_termination_readiness() -> None:
    events = [
        ors("c1", 1, 18),
        *srs_series("c1", [38]),
        ors("c1", 2, 24),
        ors("c1", 3, 28),
        ors("c1", 4, 30),
    ]
    run = fold(events)
    outcome = run.state.outcomes["ORS:client"]
    assert outcome.outcome_class == "recovered"
    assert outcome.recovered_streak == 2
    [ready] = run.of(K.TERMINATION_READY)
    reasons = ready.payload.evidence[0].inputs["reasons"]
    assert any("ORS recovered for 2" in r for r in reasons)
    assert run.state.phase == "termination"


def test_no_readiness_while_a_rupture_is_open() -> None:
    events = [
        ors("c1", 1, 18),
        ors("c1", 2, 28),
        *srs_series("c1", [38, 38, 30]),
        ors("c1", 3, 30),
        ors("c1", 4, 31),
    ]
    run = fold(events)
    assert run.of(K.TERMINATION_READY) == []
    assert "rupture(s) not repaired" in " ".join(run.state.readiness.reasons)


def test_reliable_deterioration_and_classes() -> None:
    run = fold([ors("c1", 1, 20), ors("c1", 2, 14.8)])
    [deteriorated] = run.of(K.DETERIORATED)
    assert deteriorated.payload.evidence[0].inputs["improvement"] == pytest.approx(-5.2)
    assert deteriorated.payload.evidence[0].rule is RuleName.DETERIORATION  # the switch's name
    assert deteriorated.payload.series == "ORS:client"
    assert run.state.outcomes["ORS:client"].outcome_class == "deteriorated"
    improved = fold([ors("c1", 1, 30), ors("c1", 2, 36)])  # started functional: cannot recover
    assert improved.state.outcomes["ORS:client"].outcome_class == "improved"


def test_adolescent_and_child_cutoffs() -> None:
    teen = fold(
        [ors("c1", 1, 20, age_group="adolescent"), ors("c1", 2, 27, age_group="adolescent")]
    )
    assert teen.state.outcomes["ORS:client"].cutoff == 28
    assert teen.state.outcomes["ORS:client"].outcome_class == "improved"  # 27 < 28
    child = fold([response("c2", 1, "CORS", 20)])
    assert child.state.outcomes["CORS:client"].cutoff == 32


def test_not_on_track_against_the_expected_curve() -> None:
    # Severe band (intake < 15): expected gain 5 ln(s); at session 4 that is 6.93, tolerance 5.
    run = fold([ors("c1", 1, 10), ors("c1", 4, 10.8)])
    [off] = run.of(K.OFF_TRACK)
    assert off.payload.evidence[0].inputs["expected_improvement"] == pytest.approx(6.931, abs=1e-3)
    assert (off.payload.evidence[0].rule, off.payload.series) == (RuleName.OFF_TRACK, "ORS:client")
    on = fold([ors("c1", 1, 10), ors("c1", 4, 12.4)])
    assert on.of(K.OFF_TRACK) == []


def oq(case: str, session: int, value: float, **items: float) -> CaseInput:
    answers: dict[int, float | None] = dict.fromkeys(range(1, 46), value)
    answers.update({int(k.removeprefix("i")): v for k, v in items.items()})
    return response(case, session, "OQ-45.2", 0, answers=answers)


def test_oq45_critical_item_is_an_immediate_signal() -> None:
    run = fold([oq("c1", 1, 0, i8=2, i44=1)])
    [critical] = run.of(K.CRITICAL_ITEM)
    assert critical.payload.severity == "high"
    assert critical.payload.evidence[0].inputs["items"] == [8, 44]
    assert critical.payload.evidence[0].rule is RuleName.CRITICAL_ITEMS


def test_oq45_norm_sets_change_the_cutoff() -> None:
    us = fold([oq("c1", 1, 2)])
    nl = fold([oq("c1", 1, 2)], DEFAULT_CONFIG.model_copy(update={"oq_norm_set": "NL"}))
    assert us.state.outcomes["OQ-45.2:client"].cutoff == 63
    assert nl.state.outcomes["OQ-45.2:client"].cutoff == 56
    assert nl.state.outcomes["OQ-45.2:client"].reliable_change == 18


def test_phases_foundation_work_and_closed() -> None:
    run = fold([*srs_series("c1", [38, 38, 38, 38, 38, 38]), ended("c1", "unilateral", 6)])
    changes = [s.payload.evidence[0].inputs for s in run.of(K.PHASE_CHANGED)]
    assert [(c["from"], c["to"]) for c in changes] == [("foundation", "work"), ("work", "closed")]
    assert changes[0]["latest_session"] == 6
    assert [s.payload.phase_change for s in run.of(K.PHASE_CHANGED)] == [
        PhaseChange(from_phase=Phase.FOUNDATION, to_phase=Phase.WORK),
        PhaseChange(from_phase=Phase.WORK, to_phase=Phase.CLOSED),
    ]
    assert run.state.episode.ending == "unilateral"


def test_an_ended_episode_is_no_longer_ready_for_termination() -> None:
    events = [
        ors("c1", 1, 18),
        *srs_series("c1", [38]),
        ors("c1", 2, 24),
        ors("c1", 3, 28),
        ors("c1", 4, 30),
        ended("c1", "planned", 4),
    ]
    run = fold(events)
    assert run.state.phase == "closed"
    assert not run.state.readiness.ready


def test_rules_can_be_switched_off_per_clinic() -> None:
    config = DEFAULT_CONFIG.model_copy(update={"rules_enabled": {"below_cutoff": False}})
    assert fold(srs_series("c1", [34.4]), config).of(K.RUPTURE_OPENED) == []

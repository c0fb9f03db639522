"""Class boundaries are decided in exact tenths (hypothesis; docs/clinical.md, "Exactly on a
boundary"): totals equal in tenths are classed identically however their answers summed, and a
total or change exactly on a threshold is classed as the docs say."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_contracts.clinical_config import (
    DEFAULT_CONFIG,
    RULES,
    Boundary,
    ClinicalConfig,
    NormSet,
)
from alliance_contracts.events import ClinicalRange, ResponseSubmitted
from alliance_contracts.exact import decimal, share_difference, tenths, threshold_tenths
from alliance_contracts.instruments import REGISTRY, score_response
from alliance_contracts.vocabulary import AgeGroup, OutcomeClass, RuleName, SignalKind
from alliance_scoring.domain.dyads import score
from alliance_scoring.domain.rules.ruptures import session_rules
from tests.unit.clinical import fold, response, srs_series

C = OutcomeClass
SRS, ORS, OQ = REGISTRY["SRS"], REGISTRY["ORS"], REGISTRY["OQ-45.2"]
STRICT = DEFAULT_CONFIG.model_copy(
    update={
        "reliable_change_boundary": Boundary(
            inclusive=False, source="Jacobson & Truax 1991: |RCI| > 1.96", confidence="C"
        )
    }
)
OQ_64 = DEFAULT_CONFIG.model_copy(
    update={
        "norm_sets": {
            **DEFAULT_CONFIG.norm_sets,
            "US": NormSet(
                cutoff=DEFAULT_CONFIG.norm_sets["US"].cutoff.model_copy(update={"value": 64}),
                reliable_change=DEFAULT_CONFIG.norm_sets["US"].reliable_change,
            ),
        }
    }
)


@st.composite
def keyed_items(draw: st.DrawFn, total: int, items: int, high: int) -> list[int]:
    """`items` values in [0, high] that add up to `total`, in a drawn order."""
    values, rest = [], total
    for left in range(items, 1, -1):
        low = max(0, rest - high * (left - 1))
        value = draw(st.integers(low, min(high, rest)))
        values.append(value)
        rest -= value
    values.append(rest)
    return draw(st.permutations(values))


def vas_answers(data: st.DataObject, total_tenths: int) -> dict[int, float | None]:
    """SRS/ORS answers (0-10, one decimal) whose total is `total_tenths` tenths."""
    values = data.draw(keyed_items(total_tenths, 4, 100))
    return {i: v / 10 for i, v in enumerate(values, start=1)}


def oq_answers(data: st.DataObject, total: int) -> dict[int, float | None]:
    """OQ-45.2 answers (0-4) scoring `total` after reversal."""
    keyed = data.draw(keyed_items(total, OQ.items, 4))
    return {i: float(4 - v if i in OQ.reverse_items else v) for i, v in enumerate(keyed, start=1)}


def near(center: int, width: int, low: int, high: int) -> st.SearchStrategy[int]:
    """Mostly values around a boundary, sometimes anywhere in [low, high]."""
    return st.one_of(
        st.integers(max(low, center - width), min(high, center + width)), st.integers(low, high)
    )


@settings(max_examples=150)
@given(st.data(), near(360, 12, 0, 400), st.integers(-15, 15))
def test_alliance_cutoff_and_drop_are_decided_in_tenths(
    data: st.DataObject, previous: int, change: int
) -> None:
    latest = min(400, max(0, previous + change))
    decided = []
    for _ in range(2):  # two different sets of answers with the same totals
        run = fold(
            [
                response("c1", 1, "SRS", 0, answers=vas_answers(data, previous)),
                response("c1", 2, "SRS", 0, answers=vas_answers(data, latest)),
            ]
        )
        (dyad,) = run.state.dyads.values()
        first, second = dyad.series["SRS"]
        assert (first.total, second.total) == (previous / 10, latest / 10)
        hits = session_rules(SRS, [first], second, DEFAULT_CONFIG)
        decided.append(({e.rule for e, _ in hits}, run.state))
    (rules, state), (other_rules, other_state) = decided
    assert rules == other_rules
    assert [d.ruptures for d in state.dyads.values()] == [
        d.ruptures for d in other_state.dyads.values()
    ]
    # SRS "total below 36 flags a possible problem": exactly 36 is not flagged.
    assert (RuleName.BELOW_CUTOFF in rules) == (latest < 360)
    # OpenFIT "at least 1 point below the previous session": a drop of exactly 1 is flagged.
    assert (RuleName.DROP_FROM_PREVIOUS in rules) == (previous - latest >= 10)


def expected_class(improvement: int, rcv: int, crossed: bool, inclusive: bool = True) -> C:
    def reliable(x: int) -> bool:
        return x >= rcv if inclusive else x > rcv

    if reliable(-improvement):
        return C.DETERIORATED
    if reliable(improvement):
        return C.RECOVERED if crossed else C.IMPROVED
    return C.UNCHANGED


@settings(max_examples=150)
@given(st.data(), near(250, 60, 0, 400), st.integers(-60, 60), st.booleans())
def test_ors_classes_are_decided_in_tenths(
    data: st.DataObject, baseline: int, change: int, strict: bool
) -> None:
    latest = min(400, max(0, baseline + change))
    config = STRICT if strict else DEFAULT_CONFIG
    outcomes = []
    for _ in range(2):
        run = fold(
            [
                response("c1", 1, "ORS", 0, answers=vas_answers(data, baseline)),
                response("c1", 2, "ORS", 0, answers=vas_answers(data, latest)),
            ],
            config,
        )
        (outcome,) = run.state.outcomes.values()
        outcomes.append(outcome.model_copy(update={"baseline": None, "latest": None}))
    assert outcomes[0] == outcomes[1]
    outcome = outcomes[0]
    # ORS adult cut-off 25: "below 25" is the clinical range, so exactly 25 is functional.
    crossed = baseline < 250 <= latest
    assert outcome.outcome_class == expected_class(latest - baseline, 50, crossed, not strict)
    assert outcome.improvement == (latest - baseline) / 10  # shown exactly as decided


@settings(max_examples=100)
@given(st.data(), near(63, 16, 0, 180), st.integers(-18, 18), st.booleans())
def test_oq45_classes_are_decided_exactly(
    data: st.DataObject, baseline: int, change: int, cutoff_64: bool
) -> None:
    latest = min(180, max(0, baseline + change))
    config, cutoff = (OQ_64, 64) if cutoff_64 else (DEFAULT_CONFIG, 63)
    outcomes = []
    for _ in range(2):
        run = fold(
            [
                response("c1", 1, "OQ-45.2", 0, answers=oq_answers(data, baseline)),
                response("c1", 2, "OQ-45.2", 0, answers=oq_answers(data, latest)),
            ],
            config,
        )
        (outcome,) = run.state.outcomes.values()
        assert (outcome.baseline.total, outcome.latest.total) == (baseline, latest)
        outcomes.append(outcome.model_copy(update={"baseline": None, "latest": None}))
    assert outcomes[0] == outcomes[1]
    # OQ-45.2 US ">= 63 clinical range" (or 64): exactly on the cut-off is clinical.
    crossed = baseline >= cutoff > latest
    assert outcomes[0].outcome_class == expected_class(baseline - latest, 14, crossed)


@given(st.data(), st.integers(0, 400))
def test_a_vas_total_does_not_depend_on_how_it_was_summed(data: st.DataObject, total: int) -> None:
    first = score_response("SRS", vas_answers(data, total))
    second = score_response("SRS", vas_answers(data, total))
    assert first == second
    assert first.total == total / 10


def oq_scoring(total: int) -> dict[int, float | None]:
    """OQ-45.2 answers scoring `total`: the first items at 4, the rest 0 (after reversal)."""
    keyed = [min(4, max(0, total - 4 * i)) for i in range(OQ.items)]
    return {i: float(4 - v if i in OQ.reverse_items else v) for i, v in enumerate(keyed, start=1)}


def test_a_change_of_exactly_the_reliable_change_value_is_reliable() -> None:
    """ORS 3.2 -> 8.2: in binary floats 8.2 - 3.2 is 4.999999999999999, which was classed
    unchanged beside a shown improvement of 5."""
    events = [
        response("c1", 1, "ORS", 0, answers={1: 0.8, 2: 0.8, 3: 0.8, 4: 0.8}),
        response("c1", 2, "ORS", 0, answers={1: 2.1, 2: 2.1, 3: 2.0, 4: 2.0}),
    ]
    (outcome,) = fold(events).state.outcomes.values()
    assert (outcome.improvement, outcome.outcome_class) == (5.0, C.IMPROVED)
    (strict,) = fold(events, STRICT).state.outcomes.values()
    assert strict.outcome_class == C.UNCHANGED


def test_exactly_on_the_cut_off() -> None:
    # ORS 20 -> 25: a reliable change of exactly 5 onto the cut-off: recovered ("below 25").
    ors = [
        response("c1", 1, "ORS", 0, answers={1: 5.0, 2: 5.0, 3: 5.0, 4: 5.0}),
        response("c1", 2, "ORS", 0, answers={1: 6.3, 2: 6.2, 3: 6.3, 4: 6.2}),
    ]
    (outcome,) = fold(ors).state.outcomes.values()
    assert (outcome.latest.total, outcome.outcome_class) == (25.0, C.RECOVERED)
    # OQ-45.2 77 -> 63: reliable (14) but 63 is still the clinical range (">= 63"): improved.
    oq = [
        response("c1", 1, "OQ-45.2", 0, answers=oq_scoring(77)),
        response("c1", 2, "OQ-45.2", 0, answers=oq_scoring(63)),
    ]
    (outcome,) = fold(oq).state.outcomes.values()
    assert (outcome.latest.total, outcome.outcome_class) == (63.0, C.IMPROVED)
    (sixty_four,) = fold(oq, OQ_64).state.outcomes.values()
    assert sixty_four.outcome_class == C.RECOVERED


def test_a_score_records_the_clinical_range_it_was_judged_with() -> None:
    """Exactly on the cut-off as in the outcome rule; the band and norm set that were used."""

    def judged(event: ResponseSubmitted, config: ClinicalConfig = DEFAULT_CONFIG) -> object:
        return score(event, event.recorded_at, config).payload.clinical_range

    on_25: dict[int, float | None] = {1: 6.3, 2: 6.2, 3: 6.3, 4: 6.2}
    ors_25 = response("c1", 1, "ORS", 0, answers=on_25)
    assert judged(ors_25) == ClinicalRange(cutoff=25, clinical=False, age_group=AgeGroup.ADULT)
    adolescent = response("c1", 1, "ORS", 0, answers=on_25, age_group="adolescent")
    assert judged(adolescent) == ClinicalRange(
        cutoff=28, clinical=True, age_group=AgeGroup.ADOLESCENT
    )
    cors = response("c1", 1, "CORS", 32)  # CORS defaults to the child band
    assert judged(cors) == ClinicalRange(cutoff=32, clinical=False, age_group=AgeGroup.CHILD)
    oq_63 = response("c1", 1, "OQ-45.2", 0, answers=oq_scoring(63))
    assert judged(oq_63) == ClinicalRange(cutoff=63, clinical=True, norm_set="US")
    assert judged(oq_63, OQ_64) == ClinicalRange(cutoff=64, clinical=False, norm_set="US")
    assert judged(response("c1", 1, "WAI-SR", 40)) is None  # no clinical cut-off


def test_configured_thresholds_are_read_as_written() -> None:
    assert decimal(4.8) == Fraction(48, 10)
    assert threshold_tenths(0.1 + 0.2) != 3  # a computed float is not its decimal
    assert tenths(0.1 + 0.2) == 3  # but a score is whole tenths
    assert share_difference(0.7, 0.5) == 0.2  # 0.7 - 0.5 is 0.19999999999999996 in floats


def test_evidence_shows_the_exact_points_it_was_decided_on() -> None:
    sudden = fold(
        srs_series("c1", [36.8, 37.2, 36.8, 26, 26.4, 26]),
        DEFAULT_CONFIG.model_copy(
            update={"rules_enabled": {r: r == RuleName.SUDDEN_LOSS for r in RULES}}
        ),
    )
    [evidence] = sudden.of(SignalKind.RUPTURE_OPENED)[0].payload.evidence
    assert evidence.rule == RuleName.SUDDEN_LOSS
    assert (evidence.inputs["drop"], evidence.inputs["pre_mean"]) == (10.8, 36.933)
    # 36.3 -> 35.3: a drop of exactly 1 point (0.9999999999999964 in binary floats).
    drop = fold(
        [
            response("c1", 1, "SRS", 0, answers={1: 9.1, 2: 9.1, 3: 9.1, 4: 9.0}),
            response("c1", 2, "SRS", 0, answers={1: 8.8, 2: 8.8, 3: 8.8, 4: 8.9}),
        ]
    )
    rules = {e.rule: e for s in drop.signals for e in s.payload.evidence}
    assert rules[RuleName.DROP_FROM_PREVIOUS].inputs["drop"] == 1.0

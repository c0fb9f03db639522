"""Golden cases for the instrument registry (hand-computed)."""

from __future__ import annotations

import pytest

from alliance_contracts.instruments import score_response, validate_response
from alliance_contracts.vocabulary import RespondentRole

CLIENT = RespondentRole.CLIENT


def test_srs_total_and_normalised_value() -> None:
    score = score_response("SRS", {1: 9.1, 2: 8.5, 3: 7.0, 4: 9.9})
    assert score.total == 34.5
    assert score.normalized == pytest.approx(34.5 / 40)
    assert score.subscales == {}
    assert score.scoring_key == "SRS/3.0"


def test_wai_sr_subscales_follow_the_published_key() -> None:
    # Items 1..12 answered 1,2,3,4,5,1,2,3,4,5,1,2.
    answers = {i: float(v) for i, v in enumerate([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2], start=1)}
    score = score_response("WAI-SR", answers)
    # task 1,2,10,12 = 1+2+5+2; bond 3,5,7,9 = 3+5+2+4; goal 4,6,8,11 = 4+1+3+1
    assert score.subscales == {"task": 10, "bond": 14, "goal": 9}
    assert score.total == 33
    assert score.normalized == pytest.approx((33 - 12) / 48)


def test_valid_responses_pass() -> None:
    assert validate_response("SRS", "client", CLIENT, {1: 10, 2: 0, 3: 5.5, 4: 7}) == []
    answers = dict.fromkeys(range(1, 13), 3.0)
    assert validate_response("WAI-SR", "therapist", RespondentRole.THERAPIST, answers) == []


@pytest.mark.parametrize(
    ("instrument", "form", "role", "answers", "field", "rule"),
    [
        ("XYZ", "client", CLIENT, {}, "instrument", "must be one of"),
        ("SRS", "child", CLIENT, {1: 1, 2: 1, 3: 1, 4: 1}, "form", "forms are"),
        (
            "SRS",
            "client",
            RespondentRole.THERAPIST,
            {1: 1, 2: 1, 3: 1, 4: 1},
            "respondent_role",
            "answered by",
        ),
        ("SRS", "client", CLIENT, {1: 1, 2: 1, 3: 1}, "answers.4", "is required"),
        ("SRS", "client", CLIENT, {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, "answers.5", "has items 1-4"),
        ("SRS", "client", CLIENT, {1: 10.5, 2: 1, 3: 1, 4: 1}, "answers.1", "between 0 and 10"),
        ("SRS", "client", CLIENT, {1: 9.25, 2: 1, 3: 1, 4: 1}, "answers.1", "one decimal"),
        ("SRS", "client", CLIENT, {1: None, 2: 1, 3: 1, 4: 1}, "answers.1", "is required"),
        (
            "WAI-SR",
            "client",
            CLIENT,
            {**dict.fromkeys(range(1, 13), 3.0), 7: 2.5},
            "answers.7",
            "whole number",
        ),
        (
            "WAI-SR",
            "client",
            CLIENT,
            {**dict.fromkeys(range(1, 13), 3.0), 2: 0.0},
            "answers.2",
            "between 1 and 5",
        ),
    ],
)
def test_each_rule_names_the_field(
    instrument: str,
    form: str,
    role: RespondentRole,
    answers: dict[int, float | None],
    field: str,
    rule: str,
) -> None:
    violations = validate_response(instrument, form, role, answers)
    assert any(v.field == field and rule in v.rule for v in violations), violations


def test_tasc_r_reverses_items_2_5_7_8_11() -> None:
    # All items answered 4: the five reversed items count 1 (5 - 4), the other seven count 4.
    score = score_response("TASC-R", dict.fromkeys(range(1, 13), 4.0))
    assert score.total == 7 * 4 + 5 * 1
    assert score.normalized == pytest.approx((33 - 12) / 36, abs=1e-4)


def test_tasc_r_forms_follow_the_respondent() -> None:
    answers = dict.fromkeys(range(1, 13), 2.0)
    assert validate_response("TASC-R", "parent", RespondentRole.PARENT, answers) == []
    assert validate_response("TASC-R", "child", CLIENT, answers) == []
    wrong = validate_response("TASC-R", "parent", CLIENT, answers)
    assert [v.field for v in wrong] == ["respondent_role"]


def oq_answers(value: float) -> dict[int, float | None]:
    return dict.fromkeys(range(1, 46), value)


def test_oq45_total_reverses_nine_items_and_is_higher_worse() -> None:
    # All 2s: reversal leaves 2 (4 - 2) unchanged -> 90. All 0s: the 9 reversed count 4 -> 36.
    assert score_response("OQ-45.2", oq_answers(2)).total == 90
    zeros = score_response("OQ-45.2", oq_answers(0))
    assert zeros.total == 36
    # Reversed items per subscale: SD 13, 24, 31; IR 1, 20, 37, 43; SR 12, 21 (each counts 4).
    assert zeros.subscales == {
        "symptom_distress": 12,
        "interpersonal_relations": 16,
        "social_role": 8,
    }
    assert zeros.normalized == pytest.approx(1 - 36 / 180)


def test_oq45_subscales_partition_the_items() -> None:
    from alliance_contracts.instruments import OQ_45

    items = sorted(i for s in OQ_45.subscales.values() for i in s)
    assert items == list(range(1, 46))
    assert {k: len(v) for k, v in OQ_45.subscales.items()} == {
        "symptom_distress": 25,
        "interpersonal_relations": 11,
        "social_role": 9,
    }


def test_oq45_prorates_blanks_from_their_subscale_up_to_four() -> None:
    answers = oq_answers(1)
    answers[4] = 3  # social role: items 4, 12(rev), 14, 21(rev), 28, 32, 38, 39, 44
    answers[14] = None  # blank in social role
    # Social role answered (keyed): 4->3, 12->3 (4-1), 21->3, 28,32,38,39,44 -> 1 each (5 items)
    # mean of the 8 answered = (3+3+3+5)/8 = 1.75 -> rounds to 2.
    score = score_response("OQ-45.2", answers)
    assert score.prorated_items == (14,)
    assert score.subscales["social_role"] == 3 + 3 + 3 + 5 + 2
    assert validate_response("OQ-45.2", "client", CLIENT, answers) == []
    for blank in (1, 2, 3, 5):
        answers[blank] = None
    problems = validate_response("OQ-45.2", "client", CLIENT, answers)
    assert {v.field for v in problems} == {f"answers.{i}" for i in (1, 2, 3, 5, 14)}
    assert "at most 4 blank items" in problems[0].rule


def test_oq45_flags_critical_items_answered_above_never() -> None:
    answers = oq_answers(0)
    answers[8] = 1
    answers[44] = 3
    assert score_response("OQ-45.2", answers).critical_items == (8, 44)
    assert score_response("OQ-45.2", oq_answers(0)).critical_items == ()


def test_ors_and_cors_are_outcome_scales_with_their_forms() -> None:
    assert score_response("ORS", {1: 5.5, 2: 6, 3: 7, 4: 4}).total == 22.5
    assert (
        validate_response(
            "CORS", "caregiver", RespondentRole.PARENT, dict.fromkeys(range(1, 5), 5.0)
        )
        == []
    )
    assert validate_response("CSRS", "child", CLIENT, dict.fromkeys(range(1, 5), 9.5)) == []

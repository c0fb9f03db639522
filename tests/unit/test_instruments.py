"""Golden cases for the instrument registry (hand-computed)."""

from __future__ import annotations

import pytest
from alliance_shared.events import RespondentRole
from alliance_shared.instruments import score_response, validate_response

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
        ("SRS", "client", CLIENT, {1: None, 2: 1, 3: 1, 4: 1}, "answers.1", "no missing"),
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

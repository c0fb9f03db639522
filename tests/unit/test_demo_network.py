"""The demo network simulator: a pure, deterministic generator and its HTTP driver (no network)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alliance_demo.driver import IntakeRejected, IntakeUnavailable, send_all
from alliance_demo.network import (
    CLINIC_IDS,
    CaseKind,
    Pattern,
    build_network,
    generate_submissions,
)
from alliance_intake.domain.submission import ResponseSubmission, check_submission
from alliance_shared.events import RespondentRole
from alliance_shared.instruments import score_response, validate_response

NOW = datetime(2026, 11, 25, 21, 43, tzinfo=UTC)
SEEDS = range(25)


def srs_totals(submissions: list[dict[str, Any]]) -> dict[tuple[str, str], list[float]]:
    """SRS totals per (case, respondent) in session order."""
    totals: dict[tuple[str, str], list[float]] = defaultdict(list)
    for s in sorted(submissions, key=lambda s: s["session_number"]):
        if s["instrument"] == "SRS":
            respondent = s.get("respondent_id") or s["respondent_role"]
            answers = {int(k): v for k, v in s["answers"].items()}
            totals[s["case_id"], respondent].append(score_response("SRS", answers).total)
    return totals


def test_same_seed_gives_the_same_network() -> None:
    assert build_network(7, NOW) == build_network(7, NOW)
    # Only the UTC day of `now` matters, so a re-run later that day sends the same content.
    assert generate_submissions(7, NOW) == generate_submissions(7, NOW.replace(hour=0, minute=1))


def test_other_seeds_give_other_networks() -> None:
    assert generate_submissions(7, NOW) != generate_submissions(8, NOW)


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_network(7, NOW.replace(tzinfo=None))


@pytest.mark.parametrize("seed", SEEDS)
def test_every_submission_is_valid_for_intake(seed: int) -> None:
    for body in generate_submissions(seed, NOW):
        json.dumps(body)  # a JSON body as it goes on the wire
        submission = ResponseSubmission.model_validate(body)
        assert check_submission(submission, NOW) == []
        assert submission.administered_at < NOW
        violations = validate_response(
            submission.instrument, submission.form, submission.respondent_role, submission.answers
        )
        assert violations == [], (body, violations)


@pytest.mark.parametrize("seed", SEEDS)
def test_idempotency_keys_are_unique_and_stable(seed: int) -> None:
    submissions = generate_submissions(seed, NOW)
    keys = [s["idempotency_key"] for s in submissions]
    assert len(set(keys)) == len(keys)
    assert all(8 <= len(k) <= 128 for k in keys)
    assert keys == [s["idempotency_key"] for s in generate_submissions(seed, NOW)]


@pytest.mark.parametrize("seed", SEEDS)
def test_network_has_what_the_demo_shows(seed: int) -> None:
    network = build_network(seed, NOW)
    submissions = list(network.submissions)

    assert {s["clinic_id"] for s in submissions} == set(CLINIC_IDS)
    parents = [s for s in submissions if s["respondent_role"] == RespondentRole.PARENT.value]
    assert parents
    assert all(
        s["respondent_id"] == f"{s['case_id']}-parent{s['respondent_id'][-1]}" for s in parents
    )
    assert any(len(c.parent_ids) == 2 for c in network.cases)
    assert all(bool(c.parent_ids) == (c.kind is CaseKind.CHILD) for c in network.cases)

    totals = srs_totals(submissions)
    assert any(t < 36 for series in totals.values() for t in series)
    assert all(0 <= t <= 40 for series in totals.values() for t in series)
    patterns = [c.pattern for c in network.cases]
    assert patterns.count(Pattern.LOW) == 2
    assert patterns.count(Pattern.DIP) >= 2


@pytest.mark.parametrize("seed", SEEDS)
def test_trajectories_are_plausible(seed: int) -> None:
    network = build_network(seed, NOW)
    totals = srs_totals(list(network.submissions))
    for case in network.cases:
        client = totals[case.case_id, "client"]
        if case.pattern is Pattern.LOW:
            assert max(client) < 36
        elif case.pattern is Pattern.DIP:  # high, a dip below the cut-off, repaired
            low = client.index(min(client))
            assert min(client) < 36
            assert 0 < low < len(client) - 1
            assert client[0] >= 35
            assert client[-1] >= 36
        elif case.pattern is Pattern.SPLIT:  # the parents stay high while the child drops
            assert case.kind is CaseKind.CHILD
            assert client[-1] < 36
            for parent_id in case.parent_ids:
                assert min(totals[case.case_id, parent_id]) >= 36
        else:  # growth, give or take a session's noise
            assert client[-1] >= client[0] - 1.2
    assert any(c.pattern is Pattern.SPLIT for c in network.cases)


@pytest.mark.parametrize("seed", SEEDS)
def test_sessions_follow_the_protocol(seed: int) -> None:
    network = build_network(seed, NOW)
    for case in network.cases:
        mine = [s for s in network.submissions if s["case_id"] == case.case_id]
        assert 4 <= case.sessions <= 8
        assert {s["session_number"] for s in mine} == set(range(1, case.sessions + 1))
        srs = sorted(
            (s for s in mine if s["instrument"] == "SRS" and s["respondent_role"] == "client"),
            key=lambda s: s["session_number"],
        )
        times = [datetime.fromisoformat(s["administered_at"]) for s in srs]
        assert all(b - a == timedelta(weeks=1) for a, b in itertools.pairwise(times))
        wai = {
            (s["respondent_role"], s["form"], s["session_number"])
            for s in mine
            if s["instrument"] == "WAI-SR"
        }
        if case.kind is CaseKind.ADULT:
            third = range(3, case.sessions + 1, 3)
            assert wai == {(r, r, n) for r in ("client", "therapist") for n in third}
        else:
            assert wai == set()


# --- the driver, against an in-process transport -------------------------------------------


def intake_stub(seen: dict[str, int], fail_first: int = 0) -> httpx.MockTransport:
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= fail_first:
            return httpx.Response(503, text="starting")
        body = json.loads(request.content)
        ResponseSubmission.model_validate(body)
        key = body["idempotency_key"]
        seen[key] = seen.get(key, 0) + 1
        receipt = {"event_id": "00000000-0000-0000-0000-000000000001", "duplicate": seen[key] > 1}
        return httpx.Response(202, json=receipt)

    return httpx.MockTransport(handle)


async def test_driver_counts_accepted_and_duplicates() -> None:
    submissions = generate_submissions(7, NOW)
    seen: dict[str, int] = {}
    transport = intake_stub(seen, fail_first=3)
    first = await send_all(submissions, "http://intake", transport=transport, backoff=0)
    assert (first.sent, first.accepted, first.duplicates) == (len(submissions), len(submissions), 0)
    again = await send_all(submissions, "http://intake", transport=transport, backoff=0)
    assert (again.accepted, again.duplicates) == (0, len(submissions))


async def test_driver_fails_loudly_on_4xx() -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": [{"msg": "must be between 0 and 10"}]})

    with pytest.raises(IntakeRejected, match="must be between 0 and 10") as raised:
        await send_all(
            generate_submissions(7, NOW),
            "http://intake",
            transport=httpx.MockTransport(reject),
            backoff=0,
        )
    assert raised.value.status_code == 422


async def test_driver_gives_up_after_retries() -> None:
    attempts = {"n": 0}

    def refuse(request: httpx.Request) -> httpx.Response:
        attempts["n"] += 1
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(IntakeUnavailable, match="ConnectError"):
        await send_all(
            generate_submissions(7, NOW)[:1],
            "http://intake",
            transport=httpx.MockTransport(refuse),
            retries=2,
            backoff=0,
        )
    assert attempts["n"] == 3

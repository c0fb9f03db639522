"""The demo network simulator: a pure, deterministic generator and its HTTP driver (no network).

Every case is folded through the real clinical engine (intake's event mapping, then scoring's
`apply`/`decide` with the default configuration) to check that it shows its pattern.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.events import CaseInput, EpisodeEnded, ResponseSubmitted
from alliance_contracts.instruments import score_response, validate_response
from alliance_contracts.vocabulary import RespondentRole, SignalKind
from alliance_demo.driver import IntakeRejected, IntakeUnavailable, by_case, send_all
from alliance_demo.network import (
    CLINIC_IDS,
    Case,
    CaseKind,
    Network,
    Pattern,
    build_network,
    generate_submissions,
)
from alliance_demo.requests import (
    ENDINGS_PATH,
    RESPONSES_PATH,
    EpisodeEndingRequest,
    Submission,
    path_of,
    request_body,
)
from alliance_intake.domain.episode import check_ending, ending_event
from alliance_intake.domain.submission import check_submission, to_event
from alliance_intake.entrypoints.requests import EpisodeEndingSubmission, ResponseSubmission
from tests.unit.clinical import Run, fold

NOW = datetime(2026, 11, 25, 21, 43, tzinfo=UTC)
SEEDS = (0, 1, 7, 23, 42)
K = SignalKind
WINDOW = int(DEFAULT_CONFIG.repair_window_sessions.value)


def wire(submissions: Iterable[Submission]) -> list[dict[str, Any]]:
    """The JSON bodies as they go to intake."""
    return [json.loads(json.dumps(request_body(s))) for s in submissions]


def is_ending(body: dict[str, Any]) -> bool:
    """An episode-ending body (the other bodies are questionnaire responses)."""
    return "ending" in body


def answers_of(body: dict[str, Any]) -> dict[int, float | None]:
    return {int(k): v for k, v in body["answers"].items()}


def case_bodies(network: Network) -> dict[str, list[dict[str, Any]]]:
    """Each case's bodies in the order the driver sends them."""
    return {
        case_id: wire(in_case) for (_, case_id), in_case in by_case(network.submissions).items()
    }


def events_of(bodies: list[dict[str, Any]]) -> list[CaseInput]:
    """The events intake makes of the bodies (ids derived from the idempotency keys)."""
    events: list[CaseInput] = []
    for body in bodies:
        event_id = uuid.uuid5(uuid.NAMESPACE_URL, body["idempotency_key"])
        if is_ending(body):
            ending = EpisodeEndingSubmission.model_validate(body)
            event = ending_event(ending, event_id, NOW).event
        else:
            event = to_event(ResponseSubmission.model_validate(body), event_id, NOW).event
        assert isinstance(event, ResponseSubmitted | EpisodeEnded)
        events.append(event)
    return events


def folded(network: Network) -> dict[str, tuple[Case, Run, list[dict[str, Any]]]]:
    bodies = case_bodies(network)
    return {
        c.case_id: (c, fold(events_of(bodies[c.case_id])), bodies[c.case_id]) for c in network.cases
    }


# --- the generator ---------------------------------------------------------------------------


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
    network = build_network(seed, NOW)
    for typed, body in zip(network.submissions, wire(network.submissions), strict=True):
        assert path_of(typed) == (ENDINGS_PATH if is_ending(body) else RESPONSES_PATH)
        if is_ending(body):
            ending = EpisodeEndingSubmission.model_validate(body)
            assert check_ending(ending, NOW) == []
            assert ending.ended_at < network.anchor
            continue
        submission = ResponseSubmission.model_validate(body)
        assert check_submission(submission, NOW) == []
        assert submission.administered_at < network.anchor
        violations = validate_response(
            submission.instrument, submission.form, submission.respondent_role, submission.answers
        )
        assert violations == [], (body, violations)


@pytest.mark.parametrize("seed", SEEDS)
def test_idempotency_keys_are_unique_and_stable(seed: int) -> None:
    submissions = generate_submissions(seed, NOW)
    keys = [s.idempotency_key for s in submissions]
    assert len(set(keys)) == len(keys)
    assert all(8 <= len(k) <= 128 for k in keys)
    assert keys == [s.idempotency_key for s in generate_submissions(seed, NOW)]


@pytest.mark.parametrize("seed", SEEDS)
def test_network_has_every_pattern_in_both_clinics(seed: int) -> None:
    network = build_network(seed, NOW)
    responses = wire(network.responses)
    assert {c.clinic_id for c in network.cases} == set(CLINIC_IDS)
    assert {c.pattern for c in network.cases} == set(Pattern)
    for clinic_id in CLINIC_IDS:
        shown = {c.pattern for c in network.cases if c.clinic_id == clinic_id}
        assert len(shown - {Pattern.GROWTH}) >= 2, (clinic_id, shown)
    assert len(responses) < 600  # the demo loads in seconds

    kinds = Counter(c.kind for c in network.cases)
    assert all(kinds[kind] for kind in CaseKind)
    assert any(len(c.parent_ids) == 2 for c in network.cases)
    assert all(bool(c.parent_ids) == (c.kind is CaseKind.CHILD) for c in network.cases)
    parents = [s for s in responses if s["respondent_role"] == "parent"]
    assert all(
        s["respondent_id"] == f"{s['case_id']}-parent{s['respondent_id'][-1]}" for s in parents
    )

    oq_cases = {c.case_id for c in network.cases if c.outcome == "OQ-45.2"}
    assert len(oq_cases) == 2
    assert all(c.kind is CaseKind.ADULT for c in network.cases if c.case_id in oq_cases)
    oq = [s for s in responses if s["instrument"] == "OQ-45.2"]
    scores = [score_response("OQ-45.2", answers_of(s)) for s in oq]
    assert any(len(s.prorated_items) == 1 for s in scores)  # a blank item, prorated
    assert all(len(s.prorated_items) <= 1 for s in scores)
    assert [s.critical_items for s in scores if s.critical_items] == [(8,)]  # once, item 8

    forms = {(s["instrument"], s["form"], s["respondent_role"]) for s in responses}
    assert forms == {
        ("SRS", "client", "client"),
        ("SRS", "client", "parent"),
        ("CSRS", "child", "client"),
        ("WAI-SR", "client", "client"),
        ("WAI-SR", "therapist", "therapist"),
        ("TASC-R", "child", "client"),
        ("TASC-R", "parent", "parent"),
        ("TASC-R", "therapist", "therapist"),
        ("ORS", "client", "client"),
        ("CORS", "child", "client"),
        ("CORS", "caregiver", "parent"),
        ("OQ-45.2", "client", "client"),
    }
    assert {s.get("age_group") for s in responses if s["instrument"] == "ORS"} == {
        "adult",
        "adolescent",
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_sessions_follow_the_protocol(seed: int) -> None:
    network = build_network(seed, NOW)
    for case_id, bodies in case_bodies(network).items():
        case = next(c for c in network.cases if c.case_id == case_id)
        responses = [b for b in bodies if not is_ending(b)]
        n = case.sessions
        assert {s["session_number"] for s in responses} == set(range(1, n + 1))
        got = Counter(
            (s["instrument"], s["form"], s.get("respondent_id") or s["respondent_role"])
            for s in responses
        )
        thirds = n // 3
        if case.kind is CaseKind.CHILD:
            expected = Counter(
                {("CORS", "child", "client"): n, ("CSRS", "child", "client"): n}
                | {("SRS", "client", p): n for p in case.parent_ids}
                | {
                    ("TASC-R", "child", "client"): thirds,
                    ("TASC-R", "therapist", "therapist"): thirds,
                }
            )
            if case.caregiver_outcome:
                expected[("CORS", "caregiver", case.parent_ids[0])] = n
            if case.parent_tasc:
                expected[("TASC-R", "parent", case.parent_ids[0])] = thirds
        else:
            expected = Counter(
                {
                    (case.outcome, "client", "client"): n,
                    ("SRS", "client", "client"): n,
                    ("WAI-SR", "client", "client"): thirds,
                    ("WAI-SR", "therapist", "therapist"): thirds,
                }
            )
        assert got == +expected, case_id
        assert all(
            s["session_number"] % 3 == 0
            for s in responses
            if s["instrument"] in ("WAI-SR", "TASC-R")
        )
        # Outcome and age group: the client's age group on every outcome response.
        for s in responses:
            if s["instrument"] in ("ORS", "CORS", "OQ-45.2"):
                assert s["age_group"] == case.kind.value
        # Weekly sessions; the outcome at the start of a session, the alliance at its end.
        times = {
            (s["session_number"], s["instrument"], s["respondent_role"]): datetime.fromisoformat(
                s["administered_at"]
            )
            for s in responses
            if s["respondent_role"] == "client"
        }
        starts = [times[session, case.outcome, "client"] for session in range(1, n + 1)]
        assert all(b - a == timedelta(weeks=1) for a, b in itertools.pairwise(starts))
        for session, start in enumerate(starts, start=1):
            assert times[session, case.alliance, "client"] - start == timedelta(minutes=45)
        # The driver's order: responses by time, then the ending.
        assert [is_ending(b) for b in bodies] == sorted(is_ending(b) for b in bodies)
        at = [b["administered_at"] for b in responses]
        assert at == sorted(at)


@pytest.mark.parametrize("seed", SEEDS)
def test_episode_endings(seed: int) -> None:
    network = build_network(seed, NOW)
    bodies = case_bodies(network)
    endings = {e["case_id"]: e for e in wire(network.endings)}
    sent = {case_id: in_case for (_, case_id), in_case in by_case(network.submissions).items()}
    for case in network.cases:
        expected = {Pattern.RECOVERY: "planned", Pattern.DROPOUT: "unilateral"}.get(case.pattern)
        if expected is None:
            assert case.case_id not in endings
            continue
        ending = endings[case.case_id]
        assert ending["ending"] == expected == (case.ending and case.ending.value)
        assert ending["last_session_number"] == case.sessions
        assert ending["therapist_id"] == case.therapist_id
        last = max(b["administered_at"] for b in bodies[case.case_id] if not is_ending(b))
        assert last < ending["ended_at"] < f"{network.anchor:%Y-%m-%dT%H:%M:%SZ}"
        assert bodies[case.case_id][-1] == ending
        assert isinstance(sent[case.case_id][-1], EpisodeEndingRequest)


# --- every case through the clinical engine ---------------------------------------------------

# Signals each pattern must show, and signals it must not.
REQUIRED: dict[Pattern, set[SignalKind]] = {
    Pattern.GROWTH: set(),
    Pattern.REPAIRED_RUPTURE: {K.RUPTURE_OPENED, K.RUPTURE_REPAIRED},
    Pattern.UNREPAIRED_RUPTURE: {K.RUPTURE_OPENED, K.RUPTURE_ESCALATED},
    Pattern.SPLIT: {K.RUPTURE_OPENED, K.SPLIT_DETECTED},
    Pattern.RECOVERY: {K.TERMINATION_READY},
    Pattern.DETERIORATION: {K.DETERIORATED},
    Pattern.NOT_ON_TRACK: {K.OFF_TRACK},
    Pattern.DROPOUT: {K.RUPTURE_OPENED},
}
ALARMS = {K.RUPTURE_OPENED, K.SPLIT_DETECTED, K.DETERIORATED, K.OFF_TRACK}
FORBIDDEN: dict[Pattern, set[SignalKind]] = {
    Pattern.GROWTH: ALARMS | {K.TERMINATION_READY},
    Pattern.REPAIRED_RUPTURE: {
        K.RUPTURE_ESCALATED,
        K.SPLIT_DETECTED,
        K.DETERIORATED,
        K.OFF_TRACK,
        K.TERMINATION_READY,
    },
    Pattern.UNREPAIRED_RUPTURE: {K.RUPTURE_REPAIRED, K.TERMINATION_READY},
    Pattern.SPLIT: {K.RUPTURE_REPAIRED, K.TERMINATION_READY},
    Pattern.RECOVERY: ALARMS,
    Pattern.DETERIORATION: {K.RUPTURE_OPENED, K.SPLIT_DETECTED, K.TERMINATION_READY},
    Pattern.NOT_ON_TRACK: {K.RUPTURE_OPENED, K.DETERIORATED, K.TERMINATION_READY},
    Pattern.DROPOUT: {K.RUPTURE_REPAIRED, K.TERMINATION_READY},
}


@pytest.mark.parametrize("seed", SEEDS)
def test_each_case_shows_its_pattern_in_the_clinical_engine(seed: int) -> None:
    network = build_network(seed, NOW)
    for case_id, (case, run, bodies) in folded(network).items():
        kinds = set(run.kinds())
        assert REQUIRED[case.pattern] <= kinds, (case_id, case.pattern, kinds)
        assert not FORBIDDEN[case.pattern] & kinds, (case_id, case.pattern, kinds)
        state = run.state

        endorsed = any(
            score_response(b["instrument"], answers_of(b)).critical_items
            for b in bodies
            if b.get("instrument") == "OQ-45.2"
        )
        assert (K.CRITICAL_ITEM in kinds) == endorsed == (case.pattern is Pattern.NOT_ON_TRACK)

        if case.ending is None:
            assert state.phase != "closed"
        else:
            assert (state.phase, state.episode.ending) == ("closed", case.ending.value)

        ruptures = [r for d in state.dyads.values() for r in d.ruptures]
        if case.pattern is Pattern.REPAIRED_RUPTURE:  # one V, repaired within the window
            [rupture] = ruptures
            assert rupture.status == "repaired"
            assert rupture.resolved_session is not None
            assert 1 <= rupture.resolved_session - rupture.opened_session <= 3 < WINDOW
        elif case.pattern is Pattern.UNREPAIRED_RUPTURE:
            [rupture] = ruptures
            assert rupture.status == "unresolved"
            assert rupture.resolved_session == rupture.opened_session + WINDOW
        elif case.pattern is Pattern.SPLIT:  # the child's rupture, the parents' fine
            assert {r.instrument for r in ruptures} == {"CSRS"}
            assert [s for s in state.splits if s.active]
            detected = {s.payload.session_number for s in run.of(K.SPLIT_DETECTED)}
            assert detected == {ruptures[0].opened_session}  # one per child-parent pair
        elif case.pattern is Pattern.RECOVERY:
            outcome = state.outcomes[f"{case.outcome}:client"]
            assert outcome.outcome_class == "recovered"
            assert outcome.recovered_streak >= 2
            assert fold(events_of(bodies[:-1])).state.phase == "termination"
        elif case.pattern is Pattern.DETERIORATION:
            assert state.outcomes[f"{case.outcome}:client"].outcome_class == "deteriorated"
        elif case.pattern is Pattern.NOT_ON_TRACK:
            outcome = state.outcomes["OQ-45.2:client"]
            assert (outcome.curve_band, outcome.on_track) == ("severe", False)
            assert outcome.outcome_class == "unchanged"
        elif case.pattern is Pattern.DROPOUT:  # dropped out after a rupture
            [rupture] = ruptures
            assert case.sessions - rupture.opened_session <= 1
        else:
            assert ruptures == []
            assert all(o.on_track is not False for o in state.outcomes.values())


# --- the driver, against an in-process transport -------------------------------------------


def intake_stub(
    seen: dict[str, int], fail_first: int = 0, log: list[dict[str, Any]] | None = None
) -> httpx.MockTransport:
    calls = {"n": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= fail_first:
            return httpx.Response(503, text="starting")
        body = json.loads(request.content)
        if request.url.path == ENDINGS_PATH:
            EpisodeEndingSubmission.model_validate(body)
        else:
            assert request.url.path == RESPONSES_PATH
            ResponseSubmission.model_validate(body)
        if log is not None:
            log.append(body)
        key = body["idempotency_key"]
        seen[key] = seen.get(key, 0) + 1
        receipt = {"event_id": "00000000-0000-0000-0000-000000000001", "duplicate": seen[key] > 1}
        return httpx.Response(202, json=receipt)

    return httpx.MockTransport(handle)


async def test_driver_counts_accepted_and_duplicates() -> None:
    network = build_network(7, NOW)
    submissions = list(network.submissions)
    seen: dict[str, int] = {}
    transport = intake_stub(seen, fail_first=3)
    first = await send_all(submissions, "http://intake", transport=transport, backoff=0)
    assert (first.sent, first.accepted, first.duplicates) == (len(submissions), len(submissions), 0)
    assert first.endings == len(network.endings) > 0
    again = await send_all(submissions, "http://intake", transport=transport, backoff=0)
    assert (again.accepted, again.duplicates) == (0, len(submissions))


async def test_driver_keeps_each_case_in_order_with_its_ending_last() -> None:
    network = build_network(7, NOW)
    log: list[dict[str, Any]] = []
    await send_all(
        reversed(network.submissions),
        "http://intake",
        transport=intake_stub({}, log=log),
        concurrency=4,
        backoff=0,
    )
    sent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for body in log:
        sent[body["case_id"]].append(body)
    assert {k: v for k, v in sent.items()} == case_bodies(network)
    for bodies in sent.values():
        times = [b["administered_at"] for b in bodies if not is_ending(b)]
        assert times == sorted(times)
        assert not any(is_ending(b) for b in bodies[:-1])


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


async def test_driver_waits_out_intakes_rate_limit() -> None:
    """A 429 is retried after its Retry-After (a re-run's duplicates outpace intake's limit)."""
    answered = intake_stub({})
    calls = {"n": 0}

    async def throttle_twice(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] <= 2:
            return httpx.Response(429, headers={"retry-after": "0"}, json={"detail": []})
        return await answered.handle_async_request(request)

    sent = await send_all(
        generate_submissions(7, NOW)[:3],
        "http://intake",
        transport=httpx.MockTransport(throttle_twice),
        concurrency=1,
        backoff=0,
    )
    assert (sent.sent, sent.accepted, calls["n"]) == (3, 3, 5)


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


def test_parent_ids_use_the_parent_role() -> None:
    network = build_network(7, NOW)
    for body in wire(network.responses):
        if "respondent_id" in body:
            assert body["respondent_role"] == RespondentRole.PARENT.value

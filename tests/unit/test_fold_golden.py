"""The fold's results are those of the reference fold, byte for byte: scoring's batch (on the
in-memory unit of work) over the demo network and over seeded random histories (any arrival
order, duplicates, batch cuts, late responses, amendments, voids, demographics changes, endings)
gives the case states, the published rows (the outbox: topic, key, id, value, headers), the
scores, the signals and the corrections whose digests were captured from the fold as it was
before the speed work of issue 12 (`fold_golden.json`, commit `ae7bb56`).

Regenerate only for a change that is meant to change results (then say so in the commit):
`python -m tests.unit.test_fold_golden > tests/unit/fold_golden.json`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from unittest import mock

import pytest

from alliance_contracts.events import (
    CaseInput,
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseSubmitted,
    ResponseVoided,
    ResponseVoidedPayload,
)
from alliance_demo.driver import by_case
from alliance_demo.network import build_network
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain.state import CaseState
from tests.unit.clinical import demographics, ended, response
from tests.unit.fakes.scoring import FakeCases, FakeScoringUnitOfWork
from tests.unit.test_demo_network import case_bodies, events_of

GOLDEN = Path(__file__).with_name("fold_golden.json")
RECORDED = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
TOTALS = [22.0, 28.0, 32.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0, 40.0]


@contextmanager
def seeded_ids(seed: int) -> Iterator[None]:
    """`uuid.uuid4` from a seeded generator, so the test builders give the same events."""
    rng = random.Random(seed)
    with mock.patch.object(
        uuid, "uuid4", side_effect=lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    ):
        yield


def _case_history(rng: random.Random, case: str) -> list[CaseInput]:
    """As `test_histories.case_history`, from a seeded generator."""
    sessions = rng.randint(2, 9)
    events: list[CaseInput] = []
    parent, outcome = rng.random() < 0.5, rng.random() < 0.5
    band = rng.choice([None, "adolescent"]) if outcome else None
    change_at = rng.choice([None, rng.randint(1, sessions)]) if outcome else None
    for s in range(1, sessions + 1):
        if s == change_at:
            events.append(
                demographics(case, s, age_group="adolescent" if band is None else "adult")
            )
        events.append(response(case, s, "SRS", rng.choice(TOTALS)))
        if parent:
            events.append(
                response(case, s, "SRS", rng.choice(TOTALS), role="parent", respondent_id="p-1")
            )
        if outcome:
            total = rng.choice([12.0, 18.0, 24.0, 26.0, 30.0])
            events.append(response(case, s, "ORS", total, age_group=band if s == 1 else None))
    if rng.random() < 0.5:
        events.append(ended(case, rng.choice(["planned", "unilateral"]), sessions))
    return events


def _correction(rng: random.Random, original: ResponseSubmitted) -> CaseInput:
    at = original.recorded_at + timedelta(days=rng.randint(1, 3))
    head = {
        "event_id": uuid.uuid4(),
        "clinic_id": original.clinic_id,
        "case_id": original.case_id,
        "occurred_at": at,
        "recorded_at": at,
    }
    if rng.random() < 0.3:
        payload = ResponseVoidedPayload(
            voids=original.event_id, reason="another client's form", voided_by="admin-1"
        )
        return ResponseVoided.model_validate({**head, "payload": payload})
    p = original.payload
    fresh = response(
        original.case_id,
        p.session_number,
        p.instrument,
        rng.choice(TOTALS) if p.instrument == "SRS" else rng.choice([12.0, 18.0, 30.0]),
        role=p.respondent_role.value,
        respondent_id=p.respondent_id,
    )
    amendment = ResponseAmendedPayload(
        amends=original.event_id,
        answers=fresh.payload.answers,
        reason="keyed from the wrong paper form",
        amended_by="admin-1",
    )
    return ResponseAmended.model_validate({**head, "payload": amendment})


def _arrivals(rng: random.Random, events: Sequence[CaseInput]) -> list[list[CaseInput]]:
    """The events shuffled, some twice, cut into batches of random sizes."""
    stream = list(events)
    rng.shuffle(stream)
    for e in rng.sample(stream, k=min(4, len(stream))):
        stream.insert(rng.randint(0, len(stream)), e)
    return _cut(rng, stream, 12)


def _cut(rng: random.Random, stream: Sequence[CaseInput], most: int) -> list[list[CaseInput]]:
    batches, i = [], 0
    while i < len(stream):
        n = rng.randint(1, most)
        batches.append(list(stream[i : i + n]))
        i += n
    return batches


def random_histories(seed: int) -> list[list[CaseInput]]:
    """Three cases, mostly in order, one shuffled, then corrections of some responses."""
    rng = random.Random(seed)
    with seeded_ids(seed):
        cases = [_case_history(rng, f"case-{seed}-{n}") for n in range(3)]
        batches = _cut(rng, cases[0], 7) + _arrivals(rng, cases[1]) + _cut(rng, cases[2], 40)
        responses = [e for c in cases for e in c if isinstance(e, ResponseSubmitted)]
        corrections = [_correction(rng, r) for r in rng.sample(responses, k=3)]
    return [*batches, *_arrivals(rng, corrections)]


def demo_network(seed: int, shuffled: bool) -> list[list[CaseInput]]:
    """The demo network's events in the driver's order, in batches of 100, or each case's
    events in a random order with duplicates, in batches of up to 150."""
    now = datetime(2026, 11, 25, 21, 43, tzinfo=UTC)
    network = build_network(seed, now)
    bodies = case_bodies(network)
    per_case = [events_of(bodies[case_id]) for (_, case_id) in by_case(network.submissions)]
    if not shuffled:
        stream = [e for events in per_case for e in events]
        return [stream[i : i + 100] for i in range(0, len(stream), 100)]
    rng = random.Random(seed)
    stream = [e for events in per_case for b in _arrivals(rng, events) for e in b]
    return _cut(rng, stream, 150)


SCENARIOS: dict[str, Callable[[], list[list[CaseInput]]]] = {
    **{f"random-{seed}": partial(random_histories, seed) for seed in range(40)},
    "demo-0": partial(demo_network, 0, shuffled=False),
    "demo-7": partial(demo_network, 7, shuffled=False),
    "demo-0-shuffled": partial(demo_network, 0, shuffled=True),
}


def _digest(parts: Sequence[str | bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class StoredCases(FakeCases):
    """Case states as the database keeps them: JSON, validated when read."""

    async def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        held = await super().get(keys)
        return {k: CaseState.model_validate_json(s.model_dump_json()) for k, s in held.items()}


def outputs(batches: Sequence[Sequence[CaseInput]], stored: bool = False) -> dict[str, str]:
    """Digests of everything the batches leave: inputs (to notice a changed generator), states,
    published rows, scores, signals, withdrawals and corrections. `stored`: each batch reads its
    cases back from JSON, as from `case_state` (else it gets the states the last one left, as
    from `HotCases`)."""
    uow = FakeScoringUnitOfWork()
    if stored:
        uow.cases = StoredCases()

    async def go() -> None:
        for batch in batches:
            await project_batch(uow, batch, lambda: RECORDED)

    asyncio.run(go())
    rows = [m.row() for m in uow.outbox.messages]
    return {
        "inputs": _digest([e.model_dump_json() for b in batches for e in b]),
        "states": _digest(
            [f"{k}" + s.model_dump_json() for k, s in sorted(uow.cases.states.items())]
        ),
        "outbox": _digest([f"{t}|{k}|{i}|{h}".encode() + v for t, k, i, v, h in rows]),
        "scores": _digest([e.model_dump_json() for e in uow.scores.scored]),
        "signals": _digest(
            [s.model_dump_json() for s in uow.signals.signals]
            + [f"{k}>{v}" for k, v in sorted(uow.signals.content_of.items())]
            + [w.model_dump_json() for _, w in sorted(uow.signals.withdrawn.items())]
        ),
        "corrections": _digest([f"{k}:{v}" for k, v in sorted(uow.scores.status.items())]),
        "published": str(len(rows)),
    }


def _golden() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = json.loads(GOLDEN.read_text())
    return loaded


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_fold_gives_the_reference_results(scenario: str) -> None:
    expected = _golden()[scenario]
    actual = outputs(SCENARIOS[scenario]())
    assert actual["inputs"] == expected["inputs"], "the scenario's events changed: not comparable"
    assert actual == expected


@pytest.mark.parametrize("scenario", ["random-0", "random-1", "random-2", "demo-0-shuffled"])
def test_states_kept_in_memory_fold_as_states_read_back_from_the_database(scenario: str) -> None:
    assert outputs(SCENARIOS[scenario](), stored=True) == _golden()[scenario]


if __name__ == "__main__":
    print(json.dumps({name: outputs(make()) for name, make in SCENARIOS.items()}, indent=1))

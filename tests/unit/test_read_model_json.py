"""Scoring writes some read-model JSON columns from its state's own values, not validated into
their contract shapes first (`adapters/store.py`): the same JSON as `documents.dump_json`."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from alliance_contracts.readmodels import documents
from alliance_scoring.adapters.store import case_view, dyad_view
from alliance_scoring.application.project import project_batch
from alliance_scoring.domain import state
from tests.unit.fakes.scoring import FakeScoringUnitOfWork
from tests.unit.test_fold_golden import RECORDED, SCENARIOS

# A serializer handed a value not of its type warns and guesses: here that is a failure.
pytestmark = pytest.mark.filterwarnings("error")

# Each value of the state and the shape it is written as.
MIRRORS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (state.Point, documents.LatestScore),
    (state.Trend, documents.Trend),
    (state.Rupture, documents.Rupture),
    (state.Episode, documents.Episode),
    (state.SplitState, documents.Split),
    (state.Readiness, documents.Readiness),
    (state.Demographics, documents.Demographics),
]


@pytest.mark.parametrize(("value", "shape"), MIRRORS, ids=[v.__name__ for v, _ in MIRRORS])
def test_a_state_value_has_the_fields_of_its_shape(
    value: type[BaseModel], shape: type[BaseModel]
) -> None:
    assert list(value.model_fields) == list(shape.model_fields)
    for name, field in shape.model_fields.items():
        if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            assert value.model_fields[name].annotation == field.annotation, name


def _by_shape(case: state.CaseState, dyad: state.DyadState) -> list[object]:
    """The columns as `documents.dump_json` makes them: validated into their shapes."""
    clinical = {
        "phase": case.phase,
        "trend": dyad.trend,
        "discrepancy": dyad.discrepancy,
        "ruptures": dyad.ruptures,
        "open_ruptures": sum(r.is_open for r in dyad.ruptures),
    }
    latest = {code: points[-1] for code, points in dyad.series.items() if points}
    return [
        json.loads(documents.dump_json(documents.LatestScores, latest)),
        json.loads(documents.dump_json(documents.DyadClinical, clinical)),
    ]


def _folded(scenario: str) -> list[state.CaseState]:
    uow = FakeScoringUnitOfWork()

    async def go() -> None:
        for batch in SCENARIOS[scenario]():
            await project_batch(uow, batch, lambda: RECORDED)

    asyncio.run(go())
    return list(uow.cases.states.values())


def test_the_scenarios_give_every_kind_of_value() -> None:
    cases = [c for name in ("demo-0", "demo-7", "random-0", "random-1") for c in _folded(name)]
    dyads = [d for c in cases for d in c.dyads.values()]
    assert any(d.ruptures for d in dyads)
    assert any(r.evidence for d in dyads for r in d.ruptures)
    assert any(d.trend for d in dyads)
    assert any(d.discrepancy is not None for d in dyads)
    assert any(c.splits for c in cases)
    assert any(c.readiness.reasons for c in cases)
    assert any(c.episode.ending for c in cases)
    assert any(c.demographics.age_group for c in cases)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_state_is_written_as_its_shapes_would_write_it(scenario: str) -> None:
    cases = _folded(scenario)
    assert cases
    for case in cases:
        assert [json.loads(c) for c in case_view(case)] == [
            json.loads(documents.dump_json(documents.Episode, case.episode)),
            json.loads(documents.dump_json(documents.Outcomes, list(case.outcomes.values()))),
            json.loads(documents.dump_json(documents.Splits, case.splits)),
            json.loads(documents.dump_json(documents.Readiness, case.readiness)),
            json.loads(documents.dump_json(documents.Demographics, case.demographics)),
        ]
        for dyad in case.dyads.values():
            assert [json.loads(c) for c in dyad_view(case, dyad)] == _by_shape(case, dyad)

"""PostgreSQL adapter for the case projections (asyncpg, batched: this is the hot path). Each
table is written with one statement per batch (`db.execute_rows`: the rows as one JSON
parameter), with the conflict rules the per-row statements had.

The fold state of each case lives in `scoring.case_state`; the read models the gateway serves
(`scoring.dyad`, `scoring.dyad_score`, `scoring.case_view`) are written from it in the same
transaction, shaped like the API: each JSON column through its contract shape
(`alliance_contracts.readmodels.documents`), built from the case state here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from alliance_contracts.events import CaseInput, ClinicalSignal, ResponseScored, SignalWithdrawn
from alliance_contracts.readmodels import documents
from alliance_contracts.vocabulary import Phase, ScoreStatus, SignalKind
from alliance_platform.db import CASES_JOIN, execute_rows, fetch_for_cases, json_rows
from alliance_platform.outbox import Connection
from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.history import Correction, PublishedSignal
from alliance_scoring.domain.state import CaseState, DyadState, Point, Rupture, SplitState, Trend


async def load_cases(conn: Connection, cases: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT s.clinic_id, s.case_id, s.state FROM case_state s {CASES_JOIN}",
        cases,
    )
    return {(r["clinic_id"], r["case_id"]): CaseState.model_validate_json(r["state"]) for r in rows}


class _DyadClinical(TypedDict):
    """`documents.DyadClinical`, of the state's own values."""

    phase: Phase
    trend: Trend | None
    discrepancy: float | None
    ruptures: tuple[Rupture, ...]
    open_ruptures: int


# The JSON columns whose shapes have the fields of the state's values (`Point` and
# `documents.LatestScore`, `Trend`, `Rupture`, `Episode`, `SplitState` and `documents.Split`,
# `Readiness`, `Demographics`) are serialised from the state as it is, without validating it
# into the shape first (`documents.dump_json`); the same JSON, proven on every golden scenario
# by tests/unit/test_read_model_json.py.
_LATEST_SCORES: TypeAdapter[dict[str, Point]] = TypeAdapter(dict[str, Point])
_DYAD_CLINICAL: TypeAdapter[_DyadClinical] = TypeAdapter(_DyadClinical)
_SPLITS: TypeAdapter[tuple[SplitState, ...]] = TypeAdapter(tuple[SplitState, ...])


def _already_valid(shape: Any, value: object) -> str:
    """A JSON column whose value already is of its shape (a validated event's subscales):
    serialised as it is."""
    return documents.adapter(shape).dump_json(value).decode()


def dyad_view(case: CaseState, dyad: DyadState) -> tuple[str, str]:
    """The dyad's `latest` and `clinical` columns (JSON of their contract shapes)."""
    latest = {code: points[-1] for code, points in dyad.series.items() if points}
    clinical: _DyadClinical = {
        "phase": case.phase,
        "trend": dyad.trend,
        "discrepancy": dyad.discrepancy,
        "ruptures": dyad.ruptures,
        "open_ruptures": sum(r.is_open for r in dyad.ruptures),
    }
    return (
        _LATEST_SCORES.dump_json(latest).decode(),
        _DYAD_CLINICAL.dump_json(clinical).decode(),
    )


def case_view(case: CaseState) -> tuple[str, str, str, str, str]:
    """The case's `episode`, `outcomes`, `splits`, `readiness` and `demographics` columns."""
    return (
        case.episode.model_dump_json(),
        documents.dump_json(documents.Outcomes, list(case.outcomes.values())),  # a subset
        _SPLITS.dump_json(case.splits).decode(),
        case.readiness.model_dump_json(),
        case.demographics.model_dump_json(),
    )


async def save_cases(
    conn: Connection, cases: Iterable[CaseState], now: datetime, refolded: Iterable[CaseKey] = ()
) -> None:
    cases = list(cases)  # one each: a statement may not update a row twice
    await execute_rows(
        conn,
        "INSERT INTO case_state (case_id, clinic_id, state, updated_at) "
        "SELECT r.case_id, r.clinic_id, r.state, $2::timestamptz "
        f"FROM {json_rows('case_id text', 'clinic_id text', 'state jsonb')} "
        "ON CONFLICT (clinic_id, case_id) DO UPDATE SET "
        "state = EXCLUDED.state, updated_at = EXCLUDED.updated_at",
        [(c.case_id, c.clinic_id, c.model_dump_json()) for c in cases],
        now,
    )
    await execute_rows(
        conn,
        "INSERT INTO case_view (case_id, clinic_id, phase, latest_session, episode, "
        "outcomes, splits, readiness, demographics, updated_at) "
        "SELECT r.case_id, r.clinic_id, r.phase, r.latest_session, r.episode, r.outcomes, "
        "r.splits, r.readiness, r.demographics, $2::timestamptz FROM "
        + json_rows(
            "case_id text",
            "clinic_id text",
            "phase text",
            "latest_session int",
            "episode jsonb",
            "outcomes jsonb",
            "splits jsonb",
            "readiness jsonb",
            "demographics jsonb",
        )
        + " "
        "ON CONFLICT (clinic_id, case_id) DO UPDATE SET phase = EXCLUDED.phase, "
        "latest_session = EXCLUDED.latest_session, episode = EXCLUDED.episode, "
        "outcomes = EXCLUDED.outcomes, splits = EXCLUDED.splits, "
        "readiness = EXCLUDED.readiness, demographics = EXCLUDED.demographics, "
        "updated_at = EXCLUDED.updated_at",
        [(c.case_id, c.clinic_id, c.phase, c.latest_session, *case_view(c)) for c in cases],
        now,
    )
    rows = []
    for c in cases:
        for d in c.dyads.values():
            latest, clinical = dyad_view(c, d)
            rows.append(
                (
                    d.dyad.dyad_id,
                    c.clinic_id,
                    c.case_id,
                    d.dyad.therapist_id,
                    d.dyad.respondent_role.value,
                    d.dyad.respondent_id,
                    d.responses,
                    latest,
                    clinical,
                )
            )
    await execute_rows(
        conn,
        "INSERT INTO dyad (dyad_id, clinic_id, case_id, therapist_id, respondent_role, "
        "respondent_id, responses, latest, clinical, updated_at) "
        "SELECT r.dyad_id, r.clinic_id, r.case_id, r.therapist_id, r.respondent_role, "
        "r.respondent_id, r.responses, r.latest, r.clinical, $2::timestamptz FROM "
        + json_rows(
            "dyad_id uuid",
            "clinic_id text",
            "case_id text",
            "therapist_id text",
            "respondent_role text",
            "respondent_id text",
            "responses int",
            "latest jsonb",
            "clinical jsonb",
        )
        + " "
        "ON CONFLICT (dyad_id) DO UPDATE SET responses = EXCLUDED.responses, "
        "latest = EXCLUDED.latest, clinical = EXCLUDED.clinical, updated_at = EXCLUDED.updated_at",
        rows,
        now,
    )
    refolded = set(refolded)
    if refolded:
        # A case folded again may have lost a dyad (its only response voided).
        await conn.executemany(
            "DELETE FROM dyad WHERE clinic_id = $1 AND case_id = $2 "
            "AND NOT (dyad_id = ANY($3::uuid[]))",
            [
                (c.clinic_id, c.case_id, [d.dyad.dyad_id for d in c.dyads.values()])
                for c in cases
                if (c.clinic_id, c.case_id) in refolded
            ],
        )


def _once_each(scored: Sequence[ResponseScored]) -> list[ResponseScored]:
    """A score given twice (a case folded again gives a new response's score among all its
    scores) once, as the first one with the last one's clinical range: what one statement per
    score made (the first inserts, a later one updates the range)."""
    first: dict[uuid.UUID, ResponseScored] = {}
    last: dict[uuid.UUID, ResponseScored] = {}
    for e in scored:
        first.setdefault(e.payload.source_event_id, e)
        last[e.payload.source_event_id] = e
    return [
        e
        if last[key] is e or last[key].payload.clinical_range == e.payload.clinical_range
        else e.model_copy(
            update={
                "payload": e.payload.model_copy(
                    update={"clinical_range": last[key].payload.clinical_range}
                )
            }
        )
        for key, e in first.items()
    ]


def _int_array(items: Sequence[int]) -> str:
    return "{" + ",".join(str(int(i)) for i in items) + "}"


async def insert_scores(conn: Connection, scored: Sequence[ResponseScored]) -> None:
    await execute_rows(
        conn,
        "INSERT INTO dyad_score (source_event_id, response_id, dyad_id, clinic_id, instrument, "
        "form, session_number, administered_at, total, subscales, normalized, scoring_key, "
        "prorated_items, critical_items, clinical_range) "
        "SELECT r.source_event_id, r.response_id, r.dyad_id, r.clinic_id, r.instrument, r.form, "
        "r.session_number, r.administered_at, r.total, r.subscales, r.normalized, "
        "r.scoring_key, r.prorated_items, r.critical_items, r.clinical_range FROM "
        + json_rows(
            "source_event_id uuid",
            "response_id uuid",
            "dyad_id uuid",
            "clinic_id text",
            "instrument text",
            "form text",
            "session_number int",
            "administered_at timestamptz",
            "total float8",
            "subscales jsonb",
            "normalized float8",
            "scoring_key text",
            "prorated_items int[]",
            "critical_items int[]",
            "clinical_range jsonb",
        )
        + " "
        "ON CONFLICT (source_event_id) DO UPDATE SET clinical_range = EXCLUDED.clinical_range "
        "WHERE dyad_score.clinical_range IS DISTINCT FROM EXCLUDED.clinical_range",
        [
            (
                e.payload.source_event_id,
                e.payload.response,
                e.payload.dyad.dyad_id,
                e.clinic_id,
                e.payload.instrument,
                e.payload.form,
                e.payload.session_number,
                e.payload.administered_at,
                e.payload.total,
                _already_valid(documents.Subscales, e.payload.subscales),
                e.payload.normalized,
                e.payload.scoring_key,
                _int_array(e.payload.prorated_items),
                _int_array(e.payload.critical_items),
                r.model_dump_json() if (r := e.payload.clinical_range) else None,
            )
            for e in _once_each(scored)
        ],
    )


async def insert_signals(
    conn: Connection, signals: Sequence[ClinicalSignal], content_of: Mapping[uuid.UUID, uuid.UUID]
) -> None:
    await execute_rows(
        conn,
        "INSERT INTO signal (event_id, clinic_id, case_id, dyad_id, kind, severity, "
        "instrument, session_number, summary, evidence, occurred_at, content_id) "
        "SELECT r.event_id, r.clinic_id, r.case_id, r.dyad_id, r.kind, r.severity, "
        "r.instrument, r.session_number, r.summary, r.evidence, r.occurred_at, "
        "r.content_id FROM "
        + json_rows(
            "event_id uuid", "clinic_id text", "case_id text", "dyad_id uuid", "kind text",
            "severity text", "instrument text", "session_number int", "summary text",
            "evidence jsonb", "occurred_at timestamptz", "content_id uuid",
        )
        + " "
        "ON CONFLICT DO NOTHING",
        [
            (s.event_id, s.clinic_id, s.case_id, s.payload.dyad.dyad_id if s.payload.dyad else None,
             s.payload.kind.value, s.payload.severity, s.payload.instrument,
             s.payload.session_number, s.payload.summary,
             documents.dump_json(documents.Evidence, s.payload.evidence), s.occurred_at,
             content_of.get(s.event_id, s.event_id))
            for s in signals
        ],
    )  # fmt: skip


async def insert_inputs(conn: Connection, events: Sequence[CaseInput]) -> None:
    await execute_rows(
        conn,
        "INSERT INTO case_input (clinic_id, case_id, event_id, event) "
        "SELECT r.clinic_id, r.case_id, r.event_id, r.event FROM "
        f"{json_rows('clinic_id text', 'case_id text', 'event_id uuid', 'event jsonb')} "
        "ON CONFLICT DO NOTHING",
        [(e.clinic_id, e.case_id, e.event_id, e.model_dump_json()) for e in events],
    )


_CASE_INPUT: TypeAdapter[CaseInput] = TypeAdapter(CaseInput)


async def load_inputs(conn: Connection, cases: Iterable[CaseKey]) -> dict[CaseKey, list[CaseInput]]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT i.clinic_id, i.case_id, i.event FROM case_input i {CASES_JOIN}",
        cases,
    )
    history: dict[CaseKey, list[CaseInput]] = {}
    for r in rows:
        history.setdefault((r["clinic_id"], r["case_id"]), []).append(
            _CASE_INPUT.validate_json(r["event"])
        )
    return history


async def correct_scores(conn: Connection, corrections: Sequence[Correction]) -> None:
    await conn.executemany(
        "UPDATE dyad_score SET status = $2, replaced_by = $3 WHERE source_event_id = $1",
        [
            (c.superseded, (ScoreStatus.VOIDED if c.voided else ScoreStatus.AMENDED).value, c.by)
            for c in corrections
        ],
    )


async def published_signals(
    conn: Connection, cases: Iterable[CaseKey]
) -> dict[CaseKey, list[PublishedSignal]]:
    rows = await fetch_for_cases(
        conn,
        f"SELECT s.clinic_id, s.case_id, s.event_id, s.content_id, s.kind, s.summary, "
        f"s.withdrawn_at IS NOT NULL AS withdrawn FROM signal s "
        f"{CASES_JOIN} "
        "ORDER BY s.occurred_at, s.event_id",
        cases,
    )
    published: dict[CaseKey, list[PublishedSignal]] = {}
    for r in rows:
        published.setdefault((r["clinic_id"], r["case_id"]), []).append(
            PublishedSignal(
                r["event_id"], r["content_id"], SignalKind(r["kind"]), r["summary"], r["withdrawn"]
            )
        )
    return published


async def withdraw_signals(conn: Connection, withdrawn: Sequence[SignalWithdrawn]) -> None:
    await conn.executemany(
        "UPDATE signal SET withdrawn_at = $2, withdrawn_reason = $3 WHERE event_id = $1",
        [(w.payload.signal_id, w.recorded_at, w.payload.reason.value) for w in withdrawn],
    )

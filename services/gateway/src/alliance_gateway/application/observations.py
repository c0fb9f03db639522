"""Scores as FHIR R4 `Observation`s (docs/fhir.md, decision 0028): the search and the read, the
caller's scope in their SQL like every read (adapters/queries.py), each case read recorded for
the read audit, and a score version as an Observation (pure mapping).

One Observation per score version in the caller's scope that still counts or was voided: a
response as submitted is `final`, its latest amendment `amended` (the version it replaced is no
longer served), a voided one `entered-in-error`. Its id is the version's event id (the
response's, or the amendment's); it is derived from that version of the `QuestionnaireResponse`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alliance_contracts.exact import from_tenths, tenths
from alliance_contracts.fhir import CANONICAL_BASE, INSTRUMENT_CODE_SYSTEM
from alliance_contracts.readmodels import DyadScore
from alliance_contracts.vocabulary import ScoreStatus
from alliance_gateway.adapters import queries
from alliance_gateway.adapters.queries import ScoreKey, ScoreOfCase
from alliance_gateway.application.reads import Page
from alliance_gateway.application.request import Request

SUBSCALE_CODE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/subscales"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"
MAX_COUNT = 200


@dataclass(frozen=True)
class ObservationSearch:
    """What a search asks for: the case (None: every case in the caller's scope), instruments,
    administered in [since, before), a page of `count` after `after`."""

    case_id: str | None = None
    instruments: tuple[str, ...] = ()
    since: datetime | None = None
    before: datetime | None = None
    count: int = 50
    after: ScoreKey | None = None


async def search(request: Request, asked: ObservationSearch) -> Page[ScoreOfCase]:
    async with request.snapshot() as session:
        rows, has_next = await queries.scores_of_cases(
            session,
            request.caller,
            case_id=asked.case_id,
            instruments=asked.instruments,
            since=asked.since,
            before=asked.before,
            first=asked.count,
            after=asked.after,
        )
    for row in rows:
        request.reads.read(row.score.clinic_id, row.case_id, [row.score.dyad_id])
    return Page(rows, has_next)


async def read(request: Request, score_id: uuid.UUID) -> ScoreOfCase | None:
    """One Observation by id; None when it does not exist, is not the caller's to read, or was
    replaced by an amendment (nothing tells which)."""
    async with request.snapshot() as session:
        rows, _ = await queries.scores_of_cases(session, request.caller, score_id=score_id)
    for row in rows:
        request.reads.read(row.score.clinic_id, row.case_id, [row.score.dyad_id])
    return rows[0] if rows else None


def _quantity(points: float) -> dict[str, Any]:
    # Scores are whole tenths: the float of the exact tenths, whose shortest spelling (what
    # JSON shows) is the exact value (alliance_contracts.exact).
    return {
        "value": from_tenths(tenths(points)),
        "unit": "score",
        "system": UCUM,
        "code": "{score}",
    }


def observation_status(row: ScoreOfCase) -> str:
    if row.score.status == ScoreStatus.VOIDED:
        return "entered-in-error"
    return "amended" if row.amends else "final"


def _interpretation(row: ScoreOfCase) -> list[dict[str, Any]]:
    judged = row.score.clinical_range
    if judged is None:  # instruments without a clinical cut-off (the alliance measures)
        return []
    code, display = ("A", "Abnormal") if judged.clinical else ("N", "Normal")
    side = "clinical" if judged.clinical else "functional"
    text = f"{side} range (cut-off {judged.cutoff:g}"
    text += f", {judged.age_group} norms" if judged.age_group else ""
    text += f", {judged.norm_set} norm set" if judged.norm_set else ""
    coding = {"system": INTERPRETATION_SYSTEM, "code": code, "display": display}
    return [{"coding": [coding], "text": text + ")"}]


def subscale_code(instrument: str, subscale: str) -> str:
    return f"{instrument}.{subscale}"


def derived_from(score: DyadScore) -> str:
    """The QuestionnaireResponse version scored: the response as submitted, or an amendment's
    version of it (`<response>/_history/<amendment>`, as intake's `Location` named it)."""
    if score.response_id is None or score.response_id == score.source_event_id:
        # (None: scored by a generation older than the column; its source is the response's id)
        return f"QuestionnaireResponse/{score.response_id or score.source_event_id}"
    return f"QuestionnaireResponse/{score.response_id}/_history/{score.source_event_id}"


def observation(row: ScoreOfCase) -> dict[str, Any]:
    """A score version as a FHIR R4 Observation (JSON)."""
    score = row.score
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(score.source_event_id),
        "status": observation_status(row),
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "survey"}]}],
        "code": {
            "coding": [{"system": INSTRUMENT_CODE_SYSTEM, "code": score.instrument}],
            "text": f"{score.instrument} total ({score.form} form)",
        },
        "subject": {"reference": f"Patient/{row.case_id}"},
        "effectiveDateTime": score.administered_at.isoformat(),
        "valueQuantity": _quantity(score.total),
        "derivedFrom": [{"reference": derived_from(score)}],
    }
    if interpretation := _interpretation(row):
        resource["interpretation"] = interpretation
    if score.subscales:
        resource["component"] = [
            {
                "code": {
                    "coding": [
                        {
                            "system": SUBSCALE_CODE_SYSTEM,
                            "code": subscale_code(score.instrument, name),
                        }
                    ],
                    "text": f"{score.instrument} {name}",
                },
                "valueQuantity": _quantity(points),
            }
            for name, points in sorted(score.subscales.items())
        ]
    return resource

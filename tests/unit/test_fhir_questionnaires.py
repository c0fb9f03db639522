"""Every instrument's every form as a FHIR R4 Questionnaire: generated from the registry, valid
under `fhir.resources`, with the registry's item keys, answer constraints and citation; and the
list in docs/fhir.md is the registry's (decision 0028)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire

from alliance_contracts.fhir import (
    INSTRUMENT_CODE_SYSTEM,
    MAX_DECIMAL_PLACES,
    MAX_VALUE,
    MIN_VALUE,
    QUESTIONNAIRES,
    by_canonical,
    questionnaire_id,
)
from alliance_contracts.instruments import REGISTRY, Instrument
from alliance_intake.entrypoints.fhir import searchset

DOC = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"
FORMS = [(instrument, form) for instrument in REGISTRY.values() for form in instrument.forms]


def test_one_questionnaire_per_instrument_form() -> None:
    assert sorted(QUESTIONNAIRES) == sorted(questionnaire_id(i, f) for i, f in FORMS)
    assert len(QUESTIONNAIRES) == 11
    for ident in QUESTIONNAIRES:
        assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", ident), ident  # a FHIR id


@pytest.mark.parametrize(("instrument", "form"), FORMS, ids=lambda x: getattr(x, "code", x))
def test_each_questionnaire_is_valid_r4_and_follows_the_registry(
    instrument: Instrument, form: str
) -> None:
    ident = questionnaire_id(instrument, form)
    resource = QUESTIONNAIRES[ident]
    parsed = Questionnaire.model_validate(resource)  # fhir.resources: R4's Questionnaire
    assert json.loads(parsed.model_dump_json(exclude_none=True)) == json.loads(
        json.dumps(resource)
    )  # nothing dropped or changed by the model
    assert parsed.status == "active"
    assert parsed.url == f"https://alliance.example/fhir/Questionnaire/{ident}"
    assert parsed.version == instrument.version
    assert re.fullmatch(r"[A-Z][A-Za-z0-9_]{0,254}", parsed.name or "")  # a computable name
    assert instrument.citation in (parsed.description or "")
    assert [(c.system, c.code) for c in parsed.code or []] == [
        (INSTRUMENT_CODE_SYSTEM, instrument.code)
    ]
    items = parsed.item or []
    # linkIds are the registry's item keys, as `answers` is keyed in POST /v1/responses
    assert [item.linkId for item in items] == [str(n) for n in range(1, instrument.items + 1)]
    for item in items:
        assert item.type == ("integer" if instrument.decimals == 0 else "decimal")
        assert item.required is (instrument.missing.max_missing == 0)
        constraints = {
            e.url: e.valueInteger if e.valueInteger is not None else e.valueDecimal
            for e in item.extension or []
        }
        expected: dict[str, float] = {
            MIN_VALUE: instrument.item_min,
            MAX_VALUE: instrument.item_max,
        }
        if instrument.decimals:
            expected[MAX_DECIMAL_PLACES] = instrument.decimals
        assert constraints == expected  # Decimal(10) == 10.0


def test_blanks_only_where_the_instrument_allows_them() -> None:
    oq = QUESTIONNAIRES["oq-45.2-client"]
    assert {item["required"] for item in oq["item"]} == {False}
    assert "At most 4 items may be left without an answer" in oq["description"]
    assert {item["required"] for item in QUESTIONNAIRES["srs-client"]["item"]} == {True}


def test_the_searchset_bundle_is_valid() -> None:
    bundle = searchset(list(QUESTIONNAIRES.values()), "https://intake.test/fhir/Questionnaire")
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "searchset"
    assert parsed.total == len(parsed.entry or []) == 11
    assert {e.fullUrl for e in parsed.entry or []} == {q["url"] for q in QUESTIONNAIRES.values()}


def test_a_canonical_reference_names_its_questionnaire() -> None:
    url = "https://alliance.example/fhir/Questionnaire/wai-sr-therapist"
    assert by_canonical(url) is QUESTIONNAIRES["wai-sr-therapist"]
    assert by_canonical(f"{url}|2006") is QUESTIONNAIRES["wai-sr-therapist"]
    assert by_canonical(f"{url}|2007") is None
    assert by_canonical("https://elsewhere.example/Questionnaire/wai-sr-therapist") is None
    assert by_canonical("https://alliance.example/fhir/Questionnaire/nope") is None


def test_docs_list_every_questionnaire_as_generated() -> None:
    """docs/fhir.md's table: one row per Questionnaire, as the registry has it."""
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in DOC.read_text().splitlines()
        if line.startswith("| `") and "/Questionnaire/" in line
    }
    assert sorted(rows) == sorted(QUESTIONNAIRES)
    for ident, q in QUESTIONNAIRES.items():
        instrument = REGISTRY[q["code"][0]["code"]]
        cells = [c.strip() for c in rows[ident].strip("|").split("|")]
        blanks = instrument.missing.max_missing
        item = q["item"][0]
        assert cells == [
            f"`{ident}`",
            f"`{q['url']}`",
            f"`{q['version']}`",
            f"`{instrument.code}`",
            f"{instrument.items}, {item['type']} {instrument.item_min:g}-{instrument.item_max:g}",
            "all required" if blanks == 0 else f"at most {blanks} blank (`null`)",
        ], ident

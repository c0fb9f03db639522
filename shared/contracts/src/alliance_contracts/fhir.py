"""The instruments as FHIR R4 `Questionnaire`s, generated from the instrument registry (one
source), and Alliance's canonical URLs and code system (docs/fhir.md, decision 0028).

Pure data: JSON-ready dicts, no FHIR library (intake validates each with `fhir.resources` before
it serves them). Never item wording: the instruments are licensed, so an item is its number,
its answer type and its constraints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alliance_contracts.instruments import REGISTRY, Instrument

# Canonical URLs are identifiers, the same in every deployment (a clinic system keeps them in
# its QuestionnaireResponses): a fixed base under the reserved `.example` domain, not where a
# deployment serves them.
CANONICAL_BASE = "https://alliance.example/fhir"
# None of the instruments has a LOINC code (shared/reference/instruments.md, "FHIR"): each is
# coded in Alliance's own code system, the registry's instrument code as the code.
INSTRUMENT_CODE_SYSTEM = f"{CANONICAL_BASE}/CodeSystem/instruments"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
MAX_DECIMAL_PLACES = "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces"
FHIR_JSON = "application/fhir+json"
PUBLISHER = "Alliance"
LICENSED = (
    "The item wording is licensed by the instrument's publisher and is not reproduced here: "
    "each item is its number, its answer type and its constraints."
)


def questionnaire_id(instrument: Instrument, form: str) -> str:
    """`<code>-<form>`, lower case (a FHIR id: letters, digits, `-` and `.`)."""
    return f"{instrument.code.lower()}-{form}"


def questionnaire_url(questionnaire: str) -> str:
    return f"{CANONICAL_BASE}/Questionnaire/{questionnaire}"


def _computable_name(instrument: Instrument, form: str) -> str:
    letters = "".join(c for c in instrument.code if c.isalnum())
    return f"{letters}_{form}"


def _answer_constraints(instrument: Instrument) -> list[dict[str, Any]]:
    if instrument.decimals == 0:
        bounds: list[dict[str, Any]] = [
            {"url": MIN_VALUE, "valueInteger": int(instrument.item_min)},
            {"url": MAX_VALUE, "valueInteger": int(instrument.item_max)},
        ]
        return bounds
    return [
        {"url": MIN_VALUE, "valueDecimal": instrument.item_min},
        {"url": MAX_VALUE, "valueDecimal": instrument.item_max},
        {"url": MAX_DECIMAL_PLACES, "valueInteger": instrument.decimals},
    ]


def _description(instrument: Instrument, form: str) -> str:
    roles = ", ".join(sorted(r.value for r in instrument.forms[form]))
    blanks = (
        "Every item is required."
        if instrument.missing.max_missing == 0
        else f"At most {instrument.missing.max_missing} items may be left without an answer "
        f"(a blank), scored as: {instrument.missing.citation}."
    )
    return (
        f"{instrument.code} version {instrument.version}, {form} form, answered by: {roles}. "
        f"{instrument.items} items, each {instrument.item_min:g}-{instrument.item_max:g}. "
        f"{blanks} Source: {instrument.citation}."
    )


def questionnaire(instrument: Instrument, form: str) -> dict[str, Any]:
    """One form of an instrument as a FHIR R4 Questionnaire (JSON)."""
    ident = questionnaire_id(instrument, form)
    item_type = "integer" if instrument.decimals == 0 else "decimal"
    required = instrument.missing.max_missing == 0
    constraints = _answer_constraints(instrument)
    return {
        "resourceType": "Questionnaire",
        "id": ident,
        "url": questionnaire_url(ident),
        "version": instrument.version,
        "name": _computable_name(instrument, form),
        "title": f"{instrument.code} ({form} form), version {instrument.version}",
        "status": "active",
        "experimental": False,
        "subjectType": ["Patient"],
        "publisher": PUBLISHER,
        "description": _description(instrument, form),
        "copyright": LICENSED,
        "code": [{"system": INSTRUMENT_CODE_SYSTEM, "code": instrument.code}],
        "item": [
            {
                "extension": constraints,
                "linkId": str(number),
                "text": f"Item {number}",
                "type": item_type,
                "required": required,
            }
            for number in range(1, instrument.items + 1)
        ],
    }


QUESTIONNAIRES: Mapping[str, dict[str, Any]] = {
    questionnaire_id(instrument, form): questionnaire(instrument, form)
    for instrument in REGISTRY.values()
    for form in instrument.forms
}


def by_canonical(canonical: str) -> dict[str, Any] | None:
    """The Questionnaire a canonical reference names (`url`, or `url|version`), if any."""
    url, _, version = canonical.partition("|")
    prefix = f"{CANONICAL_BASE}/Questionnaire/"
    found = QUESTIONNAIRES.get(url[len(prefix) :]) if url.startswith(prefix) else None
    if found is None or (version and version != found["version"]):
        return None
    return found


def instrument_form(canonical: str) -> tuple[str, str] | None:
    """The (instrument code, form) a canonical reference names, if any."""
    found = by_canonical(canonical)
    if found is None:
        return None
    code = found["code"][0]["code"]
    return code, found["id"][len(code) + 1 :]


# What a QuestionnaireResponse carries beyond R4's elements (docs/fhir.md): Alliance's
# extensions, and the identifier system of a case's pseudonymous id.
EXTENSION_BASE = f"{CANONICAL_BASE}/StructureDefinition"
CLINIC_EXTENSION = f"{EXTENSION_BASE}/clinic"  # valueString: the clinic's id
THERAPIST_EXTENSION = f"{EXTENSION_BASE}/therapist"  # valueReference: Practitioner/<id>
SESSION_EXTENSION = f"{EXTENSION_BASE}/session-number"  # valuePositiveInt
REASON_EXTENSION = f"{EXTENSION_BASE}/correction-reason"  # valueString: why amended or voided
CASE_SYSTEM = f"{CANONICAL_BASE}/sid/case"
# `encounter.identifier` in this system: the session (its number, as a string: "3").
SESSION_SYSTEM = f"{CANONICAL_BASE}/sid/session-number"


# The OperationOutcome issue type (http://hl7.org/fhir/issue-type) of an HTTP refusal.
ISSUE_OF_STATUS = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-long",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "transient",
}


@dataclass(frozen=True)
class Issue:
    """One issue of an OperationOutcome: the FHIRPath of the element ("": none), the rule in
    words (never the value sent) and the issue type."""

    expression: str
    diagnostics: str
    code: str = "invalid"

    def under(self, prefix: str) -> Issue:
        """The same issue, its element under `prefix` (a Bundle entry's resource)."""
        path = f"{prefix}.{self.expression}" if self.expression else prefix
        return Issue(path, self.diagnostics, self.code)


def operation_outcome(issues: Sequence[Issue], severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome (JSON) of `issues`: every FHIR answer that is not a resource asked
    for, on intake and on the gateway."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": i.code,
                "diagnostics": i.diagnostics,
                **({"expression": [i.expression]} if i.expression else {}),
            }
            for i in issues
        ],
    }

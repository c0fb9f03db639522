"""The `CapabilityStatement` of Alliance's FHIR endpoints (`GET /fhir/metadata` on the
gateway): what intake serves and takes, and what the gateway serves (docs/fhir.md). Both
services share the path layout `/fhir/<Resource>` under their own base URL."""

from __future__ import annotations

from typing import Any

from alliance_contracts.fhir import FHIR_JSON

_BEARER = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "OAuth",
        }
    ]
}


def _search(name: str, kind: str, documentation: str) -> dict[str, str]:
    return {"name": name, "type": kind, "documentation": documentation}


CAPABILITY_STATEMENT: dict[str, Any] = {
    "resourceType": "CapabilityStatement",
    "status": "active",
    "date": "2026-11-28",
    "publisher": "Alliance",
    "kind": "instance",
    "software": {"name": "Alliance"},
    "implementation": {
        "description": "Alliance: Questionnaire and QuestionnaireResponse on intake's base URL "
        "(<intake>/fhir), Observation and this statement on the gateway's (<gateway>/fhir). "
        "docs/fhir.md."
    },
    "fhirVersion": "4.0.1",
    "format": [FHIR_JSON],
    "rest": [
        {
            "mode": "server",
            "documentation": "Every resource route takes a bearer token (RS256 JWT): clinic "
            "systems' tokens on intake, people's tokens on the gateway, whose reads are scoped "
            "to the caller's clinics or caseload and audited.",
            "security": {
                "service": [_BEARER],
                "description": "Authorization: Bearer <JWT>; 401 without a valid one.",
            },
            "resource": [
                {
                    "type": "Questionnaire",
                    "documentation": "On intake: every instrument form, generated from the "
                    "instrument registry.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": [
                        _search("url", "uri", "The canonical URL, or url|version."),
                    ],
                },
                {
                    "type": "QuestionnaireResponse",
                    "documentation": "On intake: a response as submitted (completed), amended "
                    "or entered-in-error; one at a time or in a transaction Bundle.",
                    "interaction": [{"code": "create"}],
                },
                {
                    "type": "Observation",
                    "documentation": "On the gateway: each scored response's total, its "
                    "subscales as components, in the caller's scope.",
                    "interaction": [{"code": "read"}, {"code": "search-type"}],
                    "searchParam": [
                        _search(
                            "subject",
                            "reference",
                            "Patient/<case id>; without it, every case the caller may read.",
                        ),
                        _search(
                            "code",
                            "token",
                            "An instrument code (SRS, ORS…), alone or "
                            "as system|code; several separated by commas.",
                        ),
                        _search(
                            "date",
                            "date",
                            "The administration time, with the prefixes "
                            "eq, ge, gt, le, lt; repeat it for a range.",
                        ),
                        _search("_count", "number", "Page size, 1-200 (default 50)."),
                        _search("_cursor", "string", "The next page (from the next link)."),
                    ],
                },
            ],
            "interaction": [{"code": "transaction", "documentation": "On intake."}],
        }
    ],
}

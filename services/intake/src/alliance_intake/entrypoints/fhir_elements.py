"""The elements of a FHIR R4 `QuestionnaireResponse`, read as sent (once `fhir.resources` has
accepted its structure): Alliance's extensions, the references (subject, respondent, encounter,
clinic) and the answers. Each reader records in `paths` the element a domain field came from,
and returns the issues it found at their FHIRPaths (fhir_mapping.py puts them together).

Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from alliance_contracts.events import Answers
from alliance_contracts.fhir import (
    CASE_SYSTEM,
    CLINIC_EXTENSION,
    REASON_EXTENSION,
    SESSION_EXTENSION,
    SESSION_SYSTEM,
    THERAPIST_EXTENSION,
    Issue,
)
from alliance_contracts.vocabulary import RespondentRole

RESPONDENTS = {
    "Patient": RespondentRole.CLIENT,
    "RelatedPerson": RespondentRole.PARENT,
    "Practitioner": RespondentRole.THERAPIST,
}
_LINK_ID = re.compile(r"^[1-9][0-9]{0,2}$")
_SESSION = re.compile(r"^[1-9][0-9]{0,3}$")  # the domain's range (1-1000) is checked after
_REFERENCE = re.compile(r"^(Patient|RelatedPerson|Practitioner)/([^/]+)$")


def extensions_of(resource: Mapping[str, Any]) -> tuple[dict[str, tuple[str, Any]], list[Issue]]:
    """Alliance's extensions by URL: (path of the value, value). Others are ignored, as FHIR
    allows for extensions; a modifier extension changes the meaning, so none is accepted."""
    found: dict[str, tuple[str, Any]] = {}
    issues = [
        Issue(f"modifierExtension[{i}]", "is not understood: no modifier extension is accepted")
        for i, _ in enumerate(resource.get("modifierExtension") or [])
    ]
    value_of = {
        CLINIC_EXTENSION: "valueString",
        THERAPIST_EXTENSION: "valueReference",
        SESSION_EXTENSION: "valuePositiveInt",
        REASON_EXTENSION: "valueString",
    }
    for i, extension in enumerate(resource.get("extension") or []):
        url = extension.get("url")
        if url not in value_of:
            continue
        path = f"extension[{i}].{value_of[url]}"
        if url in found:
            issues.append(Issue(f"extension[{i}]", f"{url}: at most once"))
        elif value_of[url] not in extension:
            issues.append(Issue(path, f"{url} carries a {value_of[url]}", "required"))
        else:
            found[url] = (path, extension[value_of[url]])
    return found, issues


def identifying(reference: Mapping[str, Any], path: str, allowed: set[str]) -> list[Issue]:
    """A reference that carries a name (`display`) or anything beyond a pseudonymous id."""
    extra = sorted(set(reference) - allowed)
    return [
        Issue(
            f"{path}.{key}",
            "must not be sent: only a pseudonymous id (no name or other identifying data)",
            "security",
        )
        for key in extra
    ]


def subject_of(
    resource: Mapping[str, Any], paths: dict[str, str]
) -> tuple[str | None, list[Issue]]:
    subject = resource.get("subject")
    if subject is None:
        return None, [
            Issue(
                "subject",
                f"is required: Patient/<case id> or an identifier in {CASE_SYSTEM}",
                "required",
            )
        ]
    issues = identifying(subject, "subject", {"reference", "identifier", "type"})
    if "reference" in subject:
        paths["case_id"] = "subject.reference"
        kind, _, case = str(subject["reference"]).partition("/")
        if kind != "Patient" or not case:
            issues.append(Issue("subject.reference", "must be Patient/<case id>"))
        return case, issues
    identifier = subject.get("identifier") or {}
    issues += identifying(identifier, "subject.identifier", {"system", "value"})
    if identifier.get("system") != CASE_SYSTEM or "value" not in identifier:
        issues.append(Issue("subject.identifier", f"must be a value in the system {CASE_SYSTEM}"))
    paths["case_id"] = "subject.identifier.value"
    return identifier.get("value"), issues


def respondent_of(
    resource: Mapping[str, Any], case_id: str | None, paths: dict[str, str]
) -> tuple[RespondentRole | None, str | None, list[Issue]]:
    """`source` (who answered), else `author`: Patient (the client: the subject),
    RelatedPerson (a parent or caregiver) or Practitioner (the therapist)."""
    element = "source" if "source" in resource else "author"
    reference = resource.get(element)
    if reference is None:
        rule = "source or author is required: Patient, RelatedPerson or Practitioner/<id>"
        return None, None, [Issue("source", rule, "required")]
    paths["respondent_role"] = paths["respondent_id"] = f"{element}.reference"
    issues = identifying(reference, element, {"reference", "type"})
    match = _REFERENCE.match(str(reference.get("reference", "")))
    if match is None:
        rule = "must reference Patient/<id>, RelatedPerson/<id> or Practitioner/<id>"
        return None, None, [*issues, Issue(f"{element}.reference", rule)]
    kind, ident = match.groups()
    if kind == "Patient" and case_id is not None and ident != case_id:
        issues.append(Issue(f"{element}.reference", "a Patient who answers is the subject"))
    return RESPONDENTS[kind], ident, issues


def answers_of(resource: Mapping[str, Any], paths: dict[str, str]) -> tuple[Answers, list[Issue]]:
    answers: Answers = {}
    issues: list[Issue] = []
    for i, item in enumerate(resource.get("item") or []):
        link = str(item.get("linkId", ""))
        if not _LINK_ID.match(link):
            issues.append(Issue(f"item[{i}].linkId", "must be an item number: 1, 2, ..."))
            continue
        number = int(link)
        if number in answers:
            issues.append(Issue(f"item[{i}].linkId", f"item {number} is answered once"))
            continue
        if "item" in item:
            issues.append(Issue(f"item[{i}].item", "the instruments have no nested items"))
        given = item.get("answer") or []
        paths[f"answers.{number}"] = f"item[{i}]"  # a blank: the item without an answer
        answers[number] = None
        if len(given) > 1:
            issues.append(Issue(f"item[{i}].answer[1]", "an item has at most one answer"))
        if not given:
            continue
        answer = given[0]
        kind = next((k for k in answer if k.startswith("value")), "")
        path = f"item[{i}].answer[0].{kind}" if kind else f"item[{i}].answer[0]"
        value = answer.get(kind)
        if kind not in ("valueDecimal", "valueInteger") or isinstance(value, bool):
            rule = "must be a valueDecimal or a valueInteger (a number)"
            issues.append(Issue(path, rule))
        elif not isinstance(value, int | float):
            issues.append(Issue(path, "must be a JSON number, not a string"))
        else:
            paths[f"answers.{number}"] = path
            answers[number] = float(value)
    return answers, issues


def session_of(
    resource: Mapping[str, Any], extensions: Mapping[str, tuple[str, Any]], paths: dict[str, str]
) -> tuple[Any, list[Issue]]:
    """The session number: `encounter.identifier` in SESSION_SYSTEM, or the session-number
    extension; both may be sent when they agree. An encounter that is only the clinic system's
    own (a reference, an identifier in another system) says nothing of the session."""
    path, number = extensions.get(SESSION_EXTENSION, ("extension", None))
    issues: list[Issue] = []
    encounter = resource.get("encounter")
    identifier = encounter.get("identifier") if isinstance(encounter, dict) else None
    if isinstance(encounter, dict):
        issues += identifying(encounter, "encounter", {"reference", "identifier", "type"})
    if isinstance(identifier, dict) and identifier.get("system") == SESSION_SYSTEM:
        issues += identifying(identifier, "encounter.identifier", {"system", "value"})
        value = identifier.get("value")
        if not isinstance(value, str) or not _SESSION.match(value):
            rule = f'in {SESSION_SYSTEM}: the session number, a whole number ("3")'
            return None, [*issues, Issue("encounter.identifier.value", rule)]
        if number is not None and number != int(value):
            rule = f"names another session than the extension {SESSION_EXTENSION}"
            issues.append(Issue("encounter.identifier.value", rule))
        path, number = "encounter.identifier.value", int(value)
    paths["session_number"] = path
    if number is None:
        rule = (
            f"the session number is required: encounter.identifier in {SESSION_SYSTEM}, "
            f"or {SESSION_EXTENSION}"
        )
        issues.append(Issue("extension", rule, "required"))
    return number, issues


def clinic_of(
    extensions: Mapping[str, tuple[str, Any]], token_clinics: frozenset[str], paths: dict[str, str]
) -> tuple[str | None, list[Issue]]:
    """The clinic named by the extension (the door checks the token covers it), else the
    token's one clinic."""
    if CLINIC_EXTENSION in extensions:
        path, clinic = extensions[CLINIC_EXTENSION]
        paths["clinic_id"] = path
        return str(clinic), []
    if len(token_clinics) == 1:
        return next(iter(token_clinics)), []
    rule = f"the token covers {len(token_clinics)} clinics: name one in {CLINIC_EXTENSION}"
    return None, [Issue("extension", rule, "required")]

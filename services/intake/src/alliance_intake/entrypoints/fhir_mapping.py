"""A FHIR R4 `QuestionnaireResponse` as the change it asks for: the same domain submission,
amendment or void as the JSON routes (one validation path), and where each domain field came
from, so a broken rule is answered at the element's FHIRPath (docs/fhir.md, decision 0028).

Pure: reads the JSON as sent, once `fhir.resources` has accepted its structure (its numbers are
lax, `"9.5"` and `true` pass it; here an answer is a JSON number or nothing)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from alliance_contracts.events import Answers
from alliance_contracts.fhir import (
    CASE_SYSTEM,
    CLINIC_EXTENSION,
    REASON_EXTENSION,
    SESSION_EXTENSION,
    THERAPIST_EXTENSION,
    Issue,
    instrument_form,
)
from alliance_contracts.ids import IdempotencyKey
from alliance_contracts.instruments import Violation
from alliance_contracts.vocabulary import RespondentRole
from alliance_intake.application.changes import CorrectByKey, ResponseChange
from alliance_intake.domain.correction import AmendResponse, VoidResponse
from alliance_intake.domain.submission import SubmitResponse

RESPONDENTS = {
    "Patient": RespondentRole.CLIENT,
    "RelatedPerson": RespondentRole.PARENT,
    "Practitioner": RespondentRole.THERAPIST,
}
DEFAULT_REASON = {
    "amended": "amended by the clinic system (FHIR status amended)",
    "entered-in-error": "entered in error (FHIR status entered-in-error)",
}
Command = TypeVar("Command", SubmitResponse, AmendResponse, VoidResponse)
_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)
_LINK_ID = re.compile(r"^[1-9][0-9]{0,2}$")
_REFERENCE = re.compile(r"^(Patient|RelatedPerson|Practitioner)/([^/]+)$")


class Refused(Exception):
    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(f"{len(issues)} issues")
        self.issues = list(issues)


@dataclass(frozen=True)
class Mapped:
    """The change, its clinic, and the element each domain field was read from."""

    clinic_id: str
    change: ResponseChange
    paths: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The idempotency key: of the submission, or of the response corrected."""
        change = self.change
        return change.key if isinstance(change, CorrectByKey) else change.idempotency_key

    def issues(self, violations: Sequence[Violation]) -> list[Issue]:
        """The domain's broken rules, each at the element its field was read from."""
        return [Issue(path_of(self.paths, v.field), v.rule) for v in violations]


def path_of(paths: Mapping[str, str], field_path: str) -> str:
    """`answers.3` → the answer of the item with linkId 3 (the item when blank; `item` when it
    was left out); a field → the element it was read from; else the resource ("")."""
    if field_path.startswith("answers.") and field_path not in paths:
        return "item"
    return paths.get(field_path) or paths.get(field_path.split(".")[0], "")


def fhirpath(loc: Sequence[str | int]) -> str:
    """A pydantic location (`("item", 2, "answer", 0, "valueDecimal")`) as FHIRPath."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _extensions(resource: Mapping[str, Any]) -> tuple[dict[str, tuple[str, Any]], list[Issue]]:
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


def _bare(reference: Mapping[str, Any], path: str, allowed: set[str]) -> list[Issue]:
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


def _subject(resource: Mapping[str, Any], paths: dict[str, str]) -> tuple[str | None, list[Issue]]:
    subject = resource.get("subject")
    if subject is None:
        return None, [
            Issue(
                "subject",
                f"is required: Patient/<case id> or an identifier in {CASE_SYSTEM}",
                "required",
            )
        ]
    issues = _bare(subject, "subject", {"reference", "identifier", "type"})
    if "reference" in subject:
        paths["case_id"] = "subject.reference"
        kind, _, case = str(subject["reference"]).partition("/")
        if kind != "Patient" or not case:
            issues.append(Issue("subject.reference", "must be Patient/<case id>"))
        return case, issues
    identifier = subject.get("identifier") or {}
    issues += _bare(identifier, "subject.identifier", {"system", "value"})
    if identifier.get("system") != CASE_SYSTEM or "value" not in identifier:
        issues.append(Issue("subject.identifier", f"must be a value in the system {CASE_SYSTEM}"))
    paths["case_id"] = "subject.identifier.value"
    return identifier.get("value"), issues


def _respondent(
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
    issues = _bare(reference, element, {"reference", "type"})
    match = _REFERENCE.match(str(reference.get("reference", "")))
    if match is None:
        rule = "must reference Patient/<id>, RelatedPerson/<id> or Practitioner/<id>"
        return None, None, [*issues, Issue(f"{element}.reference", rule)]
    kind, ident = match.groups()
    if kind == "Patient" and ident != case_id:
        issues.append(Issue(f"{element}.reference", "a Patient who answers is the subject"))
    return RESPONDENTS[kind], ident, issues


def _answers(resource: Mapping[str, Any], paths: dict[str, str]) -> tuple[Answers, list[Issue]]:
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


def _clinic(
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


def _is_key(key: object) -> bool:
    try:
        _KEY.validate_python(key)
    except ValidationError:
        return False
    return True


def map_response(resource: Mapping[str, Any], token_clinics: frozenset[str]) -> Mapped:
    """The change a structurally valid QuestionnaireResponse asks for. Raises Refused with
    every issue found (paths relative to the resource)."""
    paths: dict[str, str] = {}
    extensions, issues = _extensions(resource)
    clinic_id, clinic_issues = _clinic(extensions, token_clinics, paths)
    issues += clinic_issues
    key_path = "identifier.value" if (resource.get("identifier") or {}).get("value") else "id"
    key = (resource.get("identifier") or {}).get("value") or resource.get("id")
    paths["idempotency_key"] = key_path
    if key is not None and not _is_key(key):
        issues.append(Issue(key_path, "must be 8-128 printable ASCII characters, no spaces"))
    if key is None:
        issues.append(
            Issue("identifier", "is required (or an id): the key of the response", "required")
        )
    status = resource.get("status")
    reason_path, reason = extensions.get(REASON_EXTENSION, ("status", None))
    paths["reason"] = reason_path
    if status in DEFAULT_REASON:  # a correction reads no reference, but refuses a name in one
        issues += [
            issue
            for element in ("subject", "source", "author")
            if isinstance(reference := resource.get(element), dict)
            for issue in _bare(reference, element, {"reference", "identifier", "type"})
        ]
    if status == "entered-in-error":
        if issues:
            raise Refused(issues)
        void = _built(VoidResponse, {"reason": reason or DEFAULT_REASON[status]}, paths)
        return Mapped(str(clinic_id), CorrectByKey(str(key), void), paths)
    answers, answer_issues = _answers(resource, paths)
    issues += answer_issues
    canonical = resource.get("questionnaire")
    paths["instrument"] = paths["form"] = "questionnaire"
    named = instrument_form(str(canonical)) if canonical is not None else None
    if named is None:
        issues.append(
            Issue(
                "questionnaire",
                "must be the canonical URL (or url|version) of an "
                "Alliance Questionnaire: GET /fhir/Questionnaire",
                "required",
            )
        )
    if status == "amended":
        if issues:
            raise Refused(issues)
        amend = _built(
            AmendResponse, {"answers": answers, "reason": reason or DEFAULT_REASON[status]}, paths
        )
        return Mapped(str(clinic_id), CorrectByKey(str(key), amend), paths)
    if status != "completed":
        issues.append(Issue("status", "must be completed, amended or entered-in-error", "value"))
    case_id, subject_issues = _subject(resource, paths)
    role, respondent, respondent_issues = _respondent(resource, case_id, paths)
    therapist_path, therapist = extensions.get(THERAPIST_EXTENSION, ("", None))
    therapist_id = None
    if therapist is not None:
        paths["therapist_id"] = therapist_path
        ref = str(therapist.get("reference", "")) if isinstance(therapist, dict) else ""
        issues += _bare(
            therapist if isinstance(therapist, dict) else {}, therapist_path, {"reference", "type"}
        )
        kind, _, therapist_id = ref.partition("/")
        if kind != "Practitioner" or (
            role is RespondentRole.THERAPIST and therapist_id != respondent
        ):
            issues.append(
                Issue(
                    therapist_path,
                    "must be Practitioner/<id>: the therapist (the "
                    "Practitioner who answered, on a therapist form)",
                )
            )
    elif role is RespondentRole.THERAPIST:
        therapist_id = respondent
        paths["therapist_id"] = paths["respondent_role"]
    else:
        issues.append(
            Issue("extension", f"the therapist is required: {THERAPIST_EXTENSION}", "required")
        )
    session_path, session = extensions.get(SESSION_EXTENSION, ("extension", None))
    paths["session_number"] = session_path
    if session is None:
        issues.append(
            Issue("extension", f"the session number is required: {SESSION_EXTENSION}", "required")
        )
    paths["administered_at"] = "authored"
    if "authored" not in resource:
        issues.append(
            Issue("authored", "is required: when the questionnaire was answered", "required")
        )
    issues += subject_issues + respondent_issues
    if issues or named is None:
        raise Refused(issues)
    submission = {
        "clinic_id": clinic_id,
        "case_id": case_id,
        "therapist_id": therapist_id,
        "respondent_role": role,
        "respondent_id": respondent if role is RespondentRole.PARENT else None,
        "instrument": named[0],
        "form": named[1],
        "session_number": session,
        "administered_at": resource["authored"],
        "answers": answers,
        "idempotency_key": key,
    }
    return Mapped(str(clinic_id), _built(SubmitResponse, submission, paths), paths)


def _built(model: type[Command], values: Mapping[str, Any], paths: Mapping[str, str]) -> Command:
    """The domain command, or Refused naming the elements its model refuses."""
    try:
        return model.model_validate(values)
    except ValidationError as invalid:
        issues = [
            Issue(path_of(paths, ".".join(str(p) for p in e["loc"][:2])), e["msg"])
            for e in invalid.errors()
        ]
        raise Refused(issues) from invalid

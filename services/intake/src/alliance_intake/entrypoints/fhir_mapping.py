"""A FHIR R4 `QuestionnaireResponse` as the change it asks for: the same domain submission,
amendment or void as the JSON routes (one validation path), and where each domain field came
from, so a broken rule is answered at the element's FHIRPath (docs/fhir.md, decision 0028).

Pure: reads the JSON as sent, once `fhir.resources` has accepted its structure (its numbers are
lax, `"9.5"` and `true` pass it; here an answer is a JSON number or nothing)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from alliance_contracts.fhir import (
    REASON_EXTENSION,
    THERAPIST_EXTENSION,
    Issue,
    instrument_form,
)
from alliance_contracts.ids import IdempotencyKey
from alliance_contracts.instruments import Violation
from alliance_contracts.vocabulary import RespondentRole
from alliance_intake.application.changes import CorrectByKey, ResponseChange
from alliance_intake.domain.correction import AmendResponse, AsSent, VoidResponse
from alliance_intake.domain.submission import SubmitResponse
from alliance_intake.entrypoints.fhir_elements import (
    answers_of,
    clinic_of,
    extensions_of,
    identifying,
    respondent_of,
    session_of,
    subject_of,
)

DEFAULT_REASON = {
    "amended": "amended by the clinic system (FHIR status amended)",
    "entered-in-error": "entered in error (FHIR status entered-in-error)",
}
Command = TypeVar("Command", SubmitResponse, AmendResponse, VoidResponse)
_KEY: TypeAdapter[str] = TypeAdapter(IdempotencyKey)


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
    extensions, issues = extensions_of(resource)
    clinic_id, clinic_issues = clinic_of(extensions, token_clinics, paths)
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
    if status == "entered-in-error":  # a void reads no reference, but refuses a name in one
        issues += [
            issue
            for element in ("subject", "source", "author")
            if isinstance(reference := resource.get(element), dict)
            for issue in identifying(reference, element, {"reference", "identifier", "type"})
        ]
        if issues:
            raise Refused(issues)
        void = _built(VoidResponse, {"reason": reason or DEFAULT_REASON[status]}, paths)
        return Mapped(str(clinic_id), CorrectByKey(str(key), void), paths)
    answers, answer_issues = answers_of(resource, paths)
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
        sent, sent_issues = _as_sent(resource, named, paths)
        issues += sent_issues
        if issues:
            raise Refused(issues)
        amend = _built(
            AmendResponse, {"answers": answers, "reason": reason or DEFAULT_REASON[status]}, paths
        )
        return Mapped(str(clinic_id), CorrectByKey(str(key), amend, sent), paths)
    if status != "completed":
        issues.append(Issue("status", "must be completed, amended or entered-in-error", "value"))
    case_id, subject_issues = subject_of(resource, paths)
    role, respondent, respondent_issues = respondent_of(resource, case_id, paths)
    therapist_path, therapist = extensions.get(THERAPIST_EXTENSION, ("", None))
    therapist_id = None
    if therapist is not None:
        paths["therapist_id"] = therapist_path
        ref = str(therapist.get("reference", "")) if isinstance(therapist, dict) else ""
        issues += identifying(
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
    session, session_issues = session_of(resource, extensions, paths)
    issues += session_issues
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


def _as_sent(
    resource: Mapping[str, Any], named: tuple[str, str] | None, paths: dict[str, str]
) -> tuple[AsSent, list[Issue]]:
    """What an amended resource says of its response besides the answers: the questionnaire,
    and the subject and the respondent where it sends them (checked against the original's
    when the amendment is recorded)."""
    case_id, issues = subject_of(resource, paths) if "subject" in resource else (None, [])
    role = respondent = None
    if "source" in resource or "author" in resource:
        role, respondent, respondent_issues = respondent_of(resource, case_id, paths)
        issues += respondent_issues
    instrument, form = named or (None, None)
    return AsSent(instrument, form, case_id, role, respondent), issues


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

"""What intake accepts about a case: responses, episode endings, corrections and the case's
demographics. Topic: responses (key: case
id), so a case's inputs keep their order."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, StrictFloat

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import Code, Note, PseudonymousId, TherapistId
from alliance_contracts.timing import Timestamp
from alliance_contracts.vocabulary import (
    AgeGroup,
    EpisodeEnding,
    RespondentRole,
)

ItemNumber = Annotated[int, Field(ge=1, le=200)]
# An answer is a JSON number or null (a blank): strict, so `true` or "9.0" is refused by name
# rather than read as 1.0 or 9.0 (decision 0028). Item numbers stay keys of a JSON object.
Answers = dict[ItemNumber, StrictFloat | None]


class ResponseSubmittedPayload(Frozen):
    therapist_id: TherapistId
    respondent_role: RespondentRole
    respondent_id: PseudonymousId | None = Field(
        None, description="Pseudonymous id of the respondent when several share a role (parents)."
    )
    instrument: Code = Field(description="Instrument code, e.g. SRS, WAI-SR.")
    form: Code = Field(description="Form of the instrument, e.g. client, therapist, child.")
    session_number: int = Field(ge=1, le=1000)
    administered_at: Timestamp
    answers: Answers = Field(
        description="Item number (1-based) to the answer, a JSON number (not a string or a "
        "boolean); every item of the form is there, null marking a blank where the instrument "
        "allows blanks (OQ-45.2). Each instrument's items and answer ranges are in "
        "docs/clinical.md and docs/fhir.md; a broken item rule answers 422 naming the item.",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$", "maxLength": 3},
            "maxProperties": 200,
        },
    )
    age_group: AgeGroup | None = Field(
        None,
        description="The client's age group, for age-normed cut-offs (ORS). Defaults: ORS adult, "
        "CORS child.",
    )


class ResponseSubmitted(EventEnvelope):
    """A questionnaire response accepted by intake. Topic: responses."""

    event_type: Literal["response.submitted"] = "response.submitted"
    schema_version: Literal[1] = 1
    config_version: int = Field(
        0,
        ge=0,
        description="The clinic's latest configuration version when intake accepted the "
        "response (0: the defaults). Scoring applies the version in force at administration "
        "among those, so a replay reproduces the same state.",
    )
    payload: ResponseSubmittedPayload


class EpisodeEndedPayload(Frozen):
    therapist_id: TherapistId
    ending: EpisodeEnding
    ended_at: Timestamp
    last_session_number: int | None = Field(None, ge=1)


class EpisodeEnded(EventEnvelope):
    """The end of a treatment episode, planned or unilateral. Topic: responses (so it is ordered
    with the case's responses)."""

    event_type: Literal["episode.ended"] = "episode.ended"
    schema_version: Literal[1] = 1
    payload: EpisodeEndedPayload


Reason = Annotated[Note, Field(min_length=1, description="Why, for the audit trail.")]


class ResponseAmendedPayload(Frozen):
    amends: uuid.UUID = Field(description="The event id of the response.submitted it corrects.")
    answers: Answers = Field(
        description="The corrected answers, all of them (same rules as on submission).",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$", "maxLength": 3},
            "maxProperties": 200,
        },
    )
    reason: Reason
    amended_by: PseudonymousId = Field(description="Who corrected it (token subject).")


class ResponseAmended(EventEnvelope):
    """A correction of an earlier response's answers. The original stays on the topic; the case
    is folded again with the corrected answers (the latest amendment of a response wins).
    Topic: responses, with the original's case and clinic."""

    event_type: Literal["response.amended"] = "response.amended"
    schema_version: Literal[1] = 1
    payload: ResponseAmendedPayload


class ResponseVoidedPayload(Frozen):
    voids: uuid.UUID = Field(description="The event id of the response.submitted it voids.")
    reason: Reason
    voided_by: PseudonymousId = Field(description="Who voided it (token subject).")


class ResponseVoided(EventEnvelope):
    """An earlier response withdrawn as wrong (e.g. keyed against the wrong client). The original
    stays on the topic; the case is folded again without it. Topic: responses."""

    event_type: Literal["response.voided"] = "response.voided"
    schema_version: Literal[1] = 1
    payload: ResponseVoidedPayload


OqNormSet = Literal["US", "NL"]  # the norm sets ClinicalConfig.oq_norm_set allows


class CaseDemographicsSetPayload(Frozen):
    age_group: AgeGroup | None = Field(
        None, description="The client's age group from `effective_from` on (none: unchanged)."
    )
    oq_norm_set: OqNormSet | None = Field(
        None,
        description="The OQ-45.2 norm set for this case from `effective_from` on, overriding "
        "the clinic's (none: unchanged).",
    )
    effective_from: Timestamp = Field(
        description="From when it applies: scores of responses administered earlier keep theirs."
    )
    set_by: PseudonymousId = Field(description="Who set it (token subject).")


class CaseDemographicsSet(EventEnvelope):
    """The case's age band and/or OQ-45.2 norm set, from its effective date on. Scoring folds it
    into the case in clinical order at `effective_from` (a late one folds the case again).
    Topic: responses."""

    event_type: Literal["case.demographics.set"] = "case.demographics.set"
    schema_version: Literal[1] = 1
    payload: CaseDemographicsSetPayload


CaseInput = Annotated[
    ResponseSubmitted | EpisodeEnded | ResponseAmended | ResponseVoided | CaseDemographicsSet,
    Field(discriminator="event_type"),
]

"""What intake accepts about a case: responses and episode endings. Topic: responses (key: case
id), so a case's inputs keep their order."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from alliance_contracts.events.envelope import EventEnvelope, Frozen
from alliance_contracts.ids import PseudonymousId, TherapistId
from alliance_contracts.timing import Timestamp
from alliance_contracts.vocabulary import (
    AgeGroup,
    EpisodeEnding,
    RespondentRole,
)

ItemNumber = Annotated[int, Field(ge=1, le=200)]


class ResponseSubmittedPayload(Frozen):
    therapist_id: TherapistId
    respondent_role: RespondentRole
    respondent_id: PseudonymousId | None = Field(
        None, description="Pseudonymous id of the respondent when several share a role (parents)."
    )
    instrument: str = Field(description="Instrument code, e.g. SRS, WAI-SR.")
    form: str = Field(description="Form of the instrument, e.g. client, therapist, child.")
    session_number: int = Field(ge=1, le=1000)
    administered_at: Timestamp
    answers: dict[ItemNumber, float | None] = Field(
        description="Item number (1-based) to the answer; null marks a missing item. Each "
        "instrument's items and answer ranges are in docs/clinical.md; a broken item rule "
        "answers 422 naming the item.",
        json_schema_extra={
            "propertyNames": {"pattern": "^[1-9][0-9]{0,2}$"},
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


CaseInput = Annotated[ResponseSubmitted | EpisodeEnded, Field(discriminator="event_type")]

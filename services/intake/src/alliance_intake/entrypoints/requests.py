"""The bodies of intake's HTTP writes. Each is its domain command (the fields and their rules,
in `domain/`) with what the OpenAPI document shows: what it is for and an example."""

from __future__ import annotations

from pydantic import ConfigDict

from alliance_intake.domain.configuration import ChangeConfiguration
from alliance_intake.domain.correction import AmendResponse, VoidResponse
from alliance_intake.domain.demographics import SetDemographics
from alliance_intake.domain.episode import EndEpisode
from alliance_intake.domain.roster import AssignCase, ChangeStaff
from alliance_intake.domain.submission import SubmitResponse


class ResponseSubmission(SubmitResponse):
    """The body of `POST /v1/responses`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clinic_id": "clinic-north",
                    "case_id": "case-0001",
                    "therapist_id": "th-07",
                    "respondent_role": "client",
                    "instrument": "SRS",
                    "form": "client",
                    "session_number": 3,
                    "administered_at": "2026-11-20T15:00:00Z",
                    "answers": {"1": 9.1, "2": 8.5, "3": 7.0, "4": 9.9},
                    "idempotency_key": "ehr-7f3a-2026-11-20-srs",
                }
            ]
        },
    )


class EpisodeEndingSubmission(EndEpisode):
    """The body of `POST /v1/episode-endings`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "clinic_id": "clinic-north",
                    "case_id": "case-0001",
                    "therapist_id": "th-07",
                    "ending": "planned",
                    "ended_at": "2026-11-20T16:00:00Z",
                    "last_session_number": 12,
                    "idempotency_key": "ehr-7f3a-episode-end",
                }
            ]
        },
    )


class ConfigurationChange(ChangeConfiguration):
    """The body of `PATCH /v1/clinics/{clinic_id}/configuration`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "overrides": {
                        "oq_norm_set": "NL",
                        "split_gap": {"value": 0.25, "source": "clinic policy", "confidence": "U"},
                        "rules_enabled": {"drop_from_previous": False},
                    },
                    "idempotency_key": "config-2026-11-25-nl-norms",
                }
            ]
        },
    )


class StaffChange(ChangeStaff):
    """The body of `PUT /v1/clinics/{clinic_id}/staff/{staff_id}`."""


class Assignment(AssignCase):
    """The body of `PUT /v1/clinics/{clinic_id}/cases/{case_id}/assignment`."""


class CaseDemographics(SetDemographics):
    """The body of `PUT /v1/clinics/{clinic_id}/cases/{case_id}/demographics`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "age_group": "adolescent",
                    "effective_from": "2026-11-20T09:00:00Z",
                    "idempotency_key": "case-42-demographics-2026-11-20",
                }
            ]
        },
    )


class ResponseAmendment(AmendResponse):
    """The body of `PUT /v1/clinics/{clinic_id}/responses/{idempotency_key}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answers": {"1": 9.1, "2": 8.5, "3": 3.0, "4": 9.9},
                    "reason": "item 3 was transcribed from the paper form as 7.0; it reads 3.0",
                }
            ]
        },
    )


class ResponseVoid(VoidResponse):
    """The body of `DELETE /v1/clinics/{clinic_id}/responses/{idempotency_key}`: a JSON body
    rather than a query parameter, as reasons are free text and query strings are logged."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"reason": "keyed against the wrong client"}]},
    )

"""The largest valid instance of every event the doors can produce fits far below the broker's
message size: computed from the bounds of its contract (its JSON schema), so a field without a
bound fails here, naming it. So do the request bodies, within the body limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from alliance_alerts.entrypoints.webhook_api import WebhookSettings
from alliance_contracts.events import (
    AlertCommand,
    CaseAssigned,
    CaseAssignmentRequested,
    CaseDemographicsSet,
    ClinicConfigured,
    EpisodeEnded,
    EpisodeEndingRequested,
    ReadAudited,
    ResponseAmended,
    ResponseAmendmentRequested,
    ResponseSubmitted,
    ResponseVoided,
    ResponseVoidRequested,
    StaffChanged,
)
from alliance_intake.domain.configuration import MAX_CONFIGURATION_BYTES, MAX_OVERRIDES_BYTES
from alliance_intake.entrypoints import requests
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES

# What intake and the gateway publish, from what their doors accept.
DOOR_EVENTS: list[type[BaseModel]] = [
    ResponseSubmitted,
    ResponseAmended,
    ResponseVoided,
    EpisodeEnded,
    CaseDemographicsSet,
    ClinicConfigured,
    StaffChanged,
    CaseAssigned,
    AlertCommand,
    EpisodeEndingRequested,
    CaseAssignmentRequested,
    ResponseAmendmentRequested,
    ResponseVoidRequested,
    ReadAudited,
]
# Every body an HTTP door parses (the gateway's are GraphQL, bounded by cost.RequestLimits).
REQUEST_BODIES: list[type[BaseModel]] = [
    requests.ResponseSubmission,
    requests.EpisodeEndingSubmission,
    requests.ConfigurationChange,
    requests.StaffChange,
    requests.Assignment,
    requests.CaseDemographics,
    requests.ResponseAmendment,
    requests.ResponseVoid,
    WebhookSettings,
]
# Free-form JSON whose bound is the door's rule rather than a schema.
BOUND_BY_RULE = {
    "ClinicConfigured.payload.configuration": MAX_CONFIGURATION_BYTES,
    "ClinicConfigured.payload.overrides": MAX_OVERRIDES_BYTES,
    "ConfigurationChange.overrides": MAX_OVERRIDES_BYTES,
}
# Key, headers and the record's own framing, generously.
RECORD_OVERHEAD = 1024
FORMATS = {"date-time": 40, "uuid": 38, "date": 12}
PER_CHARACTER = 6  # the most one character takes in JSON (an escape: \u0001)


class Unbounded(AssertionError):
    pass


def bound(schema: dict[str, Any], defs: dict[str, Any], path: str) -> int:
    """The most bytes a JSON value valid against `schema` can take (compact separators)."""
    if path in BOUND_BY_RULE:
        return BOUND_BY_RULE[path]
    if "$ref" in schema:
        return bound(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, path)
    if "const" in schema:
        return len(json.dumps(schema["const"]).encode())
    if "enum" in schema:
        return max(len(json.dumps(v).encode()) for v in schema["enum"])
    for union in ("anyOf", "oneOf", "allOf"):
        if union in schema:
            return max(bound(s, defs, path) for s in schema[union])
    kind = schema.get("type")
    if isinstance(kind, list):
        return max(bound({**schema, "type": k}, defs, path) for k in kind)
    if kind == "string":
        if schema.get("format") in FORMATS:
            return FORMATS[schema["format"]]
        if "maxLength" not in schema:
            raise Unbounded(f"{path}: a string without maxLength")
        return 2 + PER_CHARACTER * int(schema["maxLength"])
    if kind in ("integer", "number"):
        return 32
    if kind in ("boolean", "null"):
        return 5
    if kind == "array":
        if "maxItems" not in schema:
            raise Unbounded(f"{path}: a list without maxItems")
        return 2 + int(schema["maxItems"]) * (1 + bound(schema.get("items", {}), defs, path + "[]"))
    if kind == "object":
        size = 2
        for name, sub in schema.get("properties", {}).items():
            size += len(name) + 4 + bound(sub, defs, f"{path}.{name}")
        values = schema.get("additionalProperties")
        if values:
            if "maxProperties" not in schema:
                raise Unbounded(f"{path}: a mapping without maxProperties")
            key = bound({"type": "string", **schema.get("propertyNames", {})}, defs, path + "{}")
            value = bound(values if isinstance(values, dict) else {}, defs, path + "[*]")
            size += int(schema["maxProperties"]) * (key + 2 + value)
        return size
    raise Unbounded(f"{path}: no bound (type {kind!r})")


def largest(model: type[BaseModel]) -> int:
    schema = model.model_json_schema(mode="serialization")
    return bound(schema, schema.get("$defs", {}), model.__name__)


@pytest.mark.parametrize("event", DOOR_EVENTS, ids=lambda e: e.__name__)
def test_the_largest_event_a_door_can_produce_fits_far_below_the_broker_limit(
    event: type[BaseModel],
) -> None:
    # A quarter of the broker's limit: room for the dead-letter headers and for growth.
    assert largest(event) + RECORD_OVERHEAD < DEFAULT_MESSAGE_MAX_BYTES // 4


@pytest.mark.parametrize("body", REQUEST_BODIES, ids=lambda b: b.__name__)
def test_every_string_of_a_request_body_is_bounded(body: type[BaseModel]) -> None:
    assert largest(body) < 64 * 1024  # far below the default body limit (1 MiB)


def test_an_unbounded_field_is_named() -> None:
    class Loose(BaseModel):
        bounded: str = ""
        note: list[str] = []

    with pytest.raises(Unbounded, match=r"Loose\.bounded: a string without maxLength"):
        largest(Loose)

"""Pure rules for a clinic's clinical configuration: overrides merged onto the current one."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import (
    CLINIC_LEVEL_CASE_ID,
    ClinicConfigured,
    ClinicConfiguredPayload,
)
from alliance_contracts.ids import IdempotencyKey
from alliance_contracts.instruments import Violation
from alliance_contracts.timing import Timestamp
from alliance_intake.domain.submission import Accepted, fingerprint

# Bounds of what a clinic may send and keep (docs/limits.md): the event that carries both stays
# far below the broker's message size, however the versions pile up.
MAX_OVERRIDES_BYTES = 32 * 1024
MAX_CONFIGURATION_BYTES = 64 * 1024


class ChangeConfiguration(BaseModel):
    """Overrides that make a clinic's next configuration version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    overrides: dict[str, Any] = Field(
        description="ClinicalConfig fields to change; nested objects are merged (see "
        "docs/clinical.md for every key)."
    )
    effective_from: Timestamp | None = Field(
        None, description="Default: now. Responses administered from then on use it."
    )
    idempotency_key: IdempotencyKey

    @field_validator("overrides")
    @classmethod
    def _bounded(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(overrides).encode()) > MAX_OVERRIDES_BYTES:
            raise ValueError(f"must be at most {MAX_OVERRIDES_BYTES} bytes as JSON")
        return overrides


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


CLINIC_SOURCE = "clinic configuration"


def attribute(overrides: Any) -> Any:
    """A changed number without a source of its own is the clinic's, not the reference's: its
    source becomes the clinic's configuration and its confidence U."""
    if isinstance(overrides, dict):
        attributed = {k: attribute(v) for k, v in overrides.items()}
        if "value" in overrides or "source" in overrides:
            attributed.setdefault("source", CLINIC_SOURCE)
            attributed.setdefault("confidence", "U")
        return attributed
    return overrides


def resolve(current: ClinicalConfig, overrides: dict[str, Any]) -> ClinicalConfig:
    """The new complete configuration; raises pydantic.ValidationError naming the field."""
    merged = deep_merge(current.model_dump(mode="json"), attribute(overrides))
    return ClinicalConfig.model_validate(merged)


def too_large(config: ClinicalConfig) -> list[Violation]:
    """The rule on the size of a resolved configuration (each version keeps all before it)."""
    if len(config.model_dump_json().encode()) <= MAX_CONFIGURATION_BYTES:
        return []
    rule = f"the resulting configuration must be at most {MAX_CONFIGURATION_BYTES} bytes as JSON"
    return [Violation("overrides", rule)]


def configured_event(
    clinic_id: str,
    change: ChangeConfiguration,
    version: int,
    config: ClinicalConfig,
    event_id: uuid.UUID,
    now: datetime,
) -> Accepted:
    effective_from = change.effective_from or now
    event = ClinicConfigured(
        event_id=event_id,
        clinic_id=clinic_id,
        case_id=CLINIC_LEVEL_CASE_ID,
        occurred_at=effective_from,
        recorded_at=now,
        payload=ClinicConfiguredPayload(
            version=version,
            effective_from=effective_from,
            configuration=config.model_dump(mode="json"),
            overrides=change.overrides,
        ),
    )
    return Accepted(event, fingerprint(change))

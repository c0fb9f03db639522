"""The evidence behind a rupture, a signal or an alert: the rule that fired, with its inputs,
threshold and source."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="Which rule fired, with its inputs, threshold and source.")
class RuleEvidence:
    rule: str
    threshold: float
    citation: str
    inputs: JSON

    @classmethod
    def from_json(cls, e: dict[str, Any]) -> RuleEvidence:
        return cls(
            rule=e["rule"], threshold=e["threshold"], citation=e["citation"], inputs=e["inputs"]
        )

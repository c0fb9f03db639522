"""The evidence behind a rupture, a signal or an alert: the rule that fired, with its inputs,
threshold and source."""

from __future__ import annotations

from typing import cast

import strawberry
from strawberry.scalars import JSON

from alliance_contracts.events import RuleEvidence as RuleEvidenceJson


@strawberry.type(description="Which rule fired, with its inputs, threshold and source.")
class RuleEvidence:
    rule: str
    threshold: float
    citation: str
    inputs: JSON

    @classmethod
    def of(cls, e: RuleEvidenceJson) -> RuleEvidence:
        return cls(
            rule=e.rule.value,
            threshold=e.threshold,
            citation=e.citation,
            inputs=cast(JSON, e.inputs),
        )

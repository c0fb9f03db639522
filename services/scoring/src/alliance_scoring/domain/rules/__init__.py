"""The clinical rules, one module each: how it evolves the case state and which signals it
detects, with its inputs, threshold and citation (docs/clinical.md, section 3).

`DETECTORS` is the registry `case.decide` runs, in this order (the order of a step's signals).
"""

from __future__ import annotations

from alliance_scoring.domain.rules import (
    critical_items,
    early_alliance,
    outcome,
    phase,
    readiness,
    ruptures,
    splits,
)
from alliance_scoring.domain.step import Detector

DETECTORS: tuple[Detector, ...] = (
    early_alliance.detect,  # before ruptures: an early low alliance is the alert a rupture joins
    ruptures.detect,
    splits.detect,
    outcome.detect,
    critical_items.detect,
    readiness.detect,
    phase.detect,
)

"""Which clinic configuration applies to an event. Pure.

Intake stamps each response with the clinic's latest configuration version when it accepted it.
The configuration in force is the newest of the versions up to that stamp whose
`effective_from` is not after the administration time. Both inputs are fixed in the event, so a
replay chooses the same configuration however the config topic and the responses interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from alliance_shared.clinical_config import DEFAULT_CONFIG, ClinicalConfig


@dataclass(frozen=True)
class ConfigVersion:
    version: int
    effective_from: datetime
    config: ClinicalConfig


def in_force(
    versions: Sequence[ConfigVersion], stamped_version: int, administered_at: datetime
) -> ClinicalConfig:
    candidates = [
        v for v in versions if v.version <= stamped_version and v.effective_from <= administered_at
    ]
    return max(candidates, key=lambda v: v.version).config if candidates else DEFAULT_CONFIG

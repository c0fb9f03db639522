from __future__ import annotations

from alliance_shared.settings import CommonSettings
from pydantic import Field


class ScoringSettings(CommonSettings):
    batch_max_records: int = Field(500, alias="ALLIANCE_SCORING_BATCH", ge=1)

from __future__ import annotations

from pydantic import Field

from alliance_platform.settings import CommonSettings


class ScoringSettings(CommonSettings):
    batch_max_records: int = Field(500, alias="ALLIANCE_SCORING_BATCH", ge=1)

from __future__ import annotations

from pydantic import Field

from alliance_platform.settings import CommonSettings


class ScoringSettings(CommonSettings):
    batch_max_records: int = Field(500, alias="ALLIANCE_SCORING_BATCH", ge=1)
    # A generation built beside the live one (a rebuild) reads a backlog: larger batches cost
    # less per event (statements, commits, produce requests). It keeps them once live (an
    # upper bound only: a consumer that keeps up gets what has arrived).
    rebuild_batch_max_records: int = Field(2000, alias="ALLIANCE_SCORING_REBUILD_BATCH", ge=1)
    # Case states kept in memory per generation (0: none; each read from the database).
    hot_cases: int = Field(10_000, alias="ALLIANCE_SCORING_HOT_CASES", ge=0)

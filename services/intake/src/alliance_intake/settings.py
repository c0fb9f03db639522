from __future__ import annotations

from pydantic import Field

from alliance_platform.settings import CommonSettings


class IntakeSettings(CommonSettings):
    # HTTP worker processes (`entrypoints/server.py`); each has its own pool and relay.
    workers: int = Field(1, alias="ALLIANCE_INTAKE_WORKERS", ge=1, le=64)

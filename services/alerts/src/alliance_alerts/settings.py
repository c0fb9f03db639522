from __future__ import annotations

from pydantic import Field

from alliance_shared.settings import CommonSettings


class AlertsSettings(CommonSettings):
    # How often due escalations are looked for; they are dated at their due time regardless.
    tick_seconds: float = Field(5.0, alias="ALLIANCE_ALERTS_TICK_SECONDS", gt=0)

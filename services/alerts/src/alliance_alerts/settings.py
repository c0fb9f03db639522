from __future__ import annotations

from pydantic import Field

from alliance_alerts.domain.rules import AlertConfig, Threshold
from alliance_shared.settings import CommonSettings


class AlertsSettings(CommonSettings):
    # Network-wide override of the SRS cut-off; per-clinic configuration events come later.
    srs_cutoff: float | None = Field(None, alias="ALLIANCE_SRS_CUTOFF", ge=0, le=40)

    def alert_config(self) -> AlertConfig:
        default = AlertConfig()
        if self.srs_cutoff is None:
            return default
        return AlertConfig(
            srs_cutoff=Threshold(self.srs_cutoff, "set by ALLIANCE_SRS_CUTOFF (operator)")
        )

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from alliance_alerts.application.delivery import DeliveryPolicy
from alliance_shared.settings import CommonSettings


class AlertsSettings(CommonSettings):
    # How often due escalations are looked for; they are dated at their due time regardless.
    tick_seconds: float = Field(5.0, alias="ALLIANCE_ALERTS_TICK_SECONDS", gt=0)

    webhook_max_attempts: int = Field(10, alias="ALLIANCE_WEBHOOK_MAX_ATTEMPTS", ge=1)
    webhook_backoff_base_s: float = Field(30.0, alias="ALLIANCE_WEBHOOK_BACKOFF_BASE_S", gt=0)
    webhook_backoff_cap_s: float = Field(3600.0, alias="ALLIANCE_WEBHOOK_BACKOFF_CAP_S", gt=0)
    webhook_timeout_s: float = Field(5.0, alias="ALLIANCE_WEBHOOK_TIMEOUT_S", gt=0)
    webhook_live_window_h: float = Field(24.0, alias="ALLIANCE_WEBHOOK_LIVE_WINDOW_H", gt=0)

    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            max_attempts=self.webhook_max_attempts,
            backoff_base_s=self.webhook_backoff_base_s,
            backoff_cap_s=self.webhook_backoff_cap_s,
            timeout_s=self.webhook_timeout_s,
            live_window=timedelta(hours=self.webhook_live_window_h),
        )

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

from pydantic import Field

from alliance_alerts.adapters.secret_box import SecretBox
from alliance_alerts.domain.webhooks import DeliveryPolicy
from alliance_platform.settings import CommonSettings


class AlertsSettings(CommonSettings):
    # How often due escalations are looked for; they are dated at their due time regardless.
    tick_seconds: float = Field(5.0, alias="ALLIANCE_ALERTS_TICK_SECONDS", gt=0)

    webhook_max_attempts: int = Field(10, alias="ALLIANCE_WEBHOOK_MAX_ATTEMPTS", ge=1)
    webhook_backoff_base_s: float = Field(30.0, alias="ALLIANCE_WEBHOOK_BACKOFF_BASE_S", gt=0)
    webhook_backoff_cap_s: float = Field(3600.0, alias="ALLIANCE_WEBHOOK_BACKOFF_CAP_S", gt=0)
    webhook_timeout_s: float = Field(5.0, alias="ALLIANCE_WEBHOOK_TIMEOUT_S", gt=0)
    webhook_live_window_h: float = Field(24.0, alias="ALLIANCE_WEBHOOK_LIVE_WINDOW_H", gt=0)
    # How long the previous secret stays valid (and signed with) after a rotation.
    webhook_rotation_overlap_h: float = Field(
        24.0, alias="ALLIANCE_WEBHOOK_ROTATION_OVERLAP_H", ge=0
    )
    # Networks that may receive webhooks although not public, comma-separated CIDRs (and may
    # use plain http). Empty: public https endpoints only.
    webhook_allow_networks: str = Field("", alias="ALLIANCE_WEBHOOK_ALLOW_NETWORKS")
    # Keys that seal webhook secrets at rest: `kid:base64(32 bytes)[,...]`, the first current.
    webhook_keys: str | None = Field(None, alias="ALLIANCE_WEBHOOK_KEYS")
    webhook_keys_file: str | None = Field(None, alias="ALLIANCE_WEBHOOK_KEYS_FILE")

    def secret_box(self) -> SecretBox | None:
        """None without keys: webhooks can then be neither registered nor sent."""
        spec = self.webhook_keys
        if self.webhook_keys_file:
            spec = Path(self.webhook_keys_file).read_text().strip()
        return SecretBox.parse(spec) if spec else None

    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            max_attempts=self.webhook_max_attempts,
            backoff_base_s=self.webhook_backoff_base_s,
            backoff_cap_s=self.webhook_backoff_cap_s,
            timeout_s=self.webhook_timeout_s,
            live_window=timedelta(hours=self.webhook_live_window_h),
            rotation_overlap=timedelta(hours=self.webhook_rotation_overlap_h),
            allow_networks=tuple(
                ipaddress.ip_network(n.strip(), strict=False)
                for n in self.webhook_allow_networks.split(",")
                if n.strip()
            ),
        )

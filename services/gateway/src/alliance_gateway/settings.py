from __future__ import annotations

from alliance_shared.settings import CommonSettings


class GatewaySettings(CommonSettings):
    pass

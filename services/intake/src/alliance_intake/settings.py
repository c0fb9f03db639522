from __future__ import annotations

from alliance_platform.settings import CommonSettings


class IntakeSettings(CommonSettings):
    pass

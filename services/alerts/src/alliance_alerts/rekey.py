"""Re-seals every webhook secret with the current encryption key, after a key rotation:

    ALLIANCE_WEBHOOK_KEYS="new:<base64>,old:<base64>" python -m alliance_alerts.rekey

Then the old key can be removed from ALLIANCE_WEBHOOK_KEYS (see docs/security.md)."""

from __future__ import annotations

import asyncio
import sys

from alliance_alerts.adapters.delivery_store import reseal_all
from alliance_alerts.settings import AlertsSettings
from alliance_platform.db import create_pool


async def rekey(settings: AlertsSettings) -> tuple[int, list[str]]:
    box = settings.secret_box()
    if box is None:
        raise SystemExit("ALLIANCE_WEBHOOK_KEYS (or _FILE) is not set")
    pool = await create_pool(settings.database_url, 2)
    try:
        return await reseal_all(pool, box)
    finally:
        await pool.close()


def main() -> int:
    count, unreadable = asyncio.run(rekey(AlertsSettings()))
    print(f"re-sealed the secrets of {count} webhook endpoint(s) with the current key")
    if unreadable:
        print(f"no configured key opens the secrets of: {', '.join(unreadable)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

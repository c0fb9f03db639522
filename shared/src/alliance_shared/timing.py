"""Clock rules every door applies alike (intake's HTTP API and the gateway's mutations)."""

from __future__ import annotations

from datetime import datetime, timedelta

# A client's clock may run this far ahead of ours: a time beyond it is "in the future".
CLOCK_SKEW = timedelta(minutes=5)


def in_future(at: datetime, now: datetime) -> bool:
    return at > now + CLOCK_SKEW

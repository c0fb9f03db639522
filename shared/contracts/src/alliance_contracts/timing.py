"""Clock rules every door applies alike (intake's HTTP API and the gateway's mutations)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, WithJsonSchema

# A client's clock may run this far ahead of ours: a time beyond it is "in the future".
CLOCK_SKEW = timedelta(minutes=5)


def utc_now() -> datetime:
    """The wall clock: entrypoints pass it to the code that needs the time (never read inside
    the domain)."""
    return datetime.now(UTC)


def in_future(at: datetime, now: datetime) -> bool:
    return at > now + CLOCK_SKEW


def _plausible(at: datetime) -> datetime:
    # Checked on the local year: converting year 1 at +14:00 to UTC would overflow.
    if not 1900 <= at.year <= 2199:
        raise ValueError("must be between the years 1900 and 2199")
    return at


# A time in a clinic: with its time zone, within reason (the OpenAPI documents say so too).
Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_plausible),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": "^(19|20|21)[0-9]{2}-"}),
]

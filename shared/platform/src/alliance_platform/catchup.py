"""How far a projection has read its topics, for the loops that decide from it.

A clock loop (alerts' escalations) decides from the projection what is due. During a replay
(a rebuild, a new generation reading from the start) the projection is half built: an alert may
be raised while the acknowledgement that came before its due time is not applied yet. So such a
loop decides only up to a time the projection is complete for:

    catch_up = CatchUp(bootstrap, ["alliance.scored.v1", ...], positions)
    until = await catch_up.advance(clock())   # None: not caught up (yet)

Each `advance(now)` notes the end offsets of the input topics with `now`. When the positions
the projection stored (with each batch's PostgreSQL transaction) have reached the offsets
noted at an earlier call, every record that was in the topics then is applied, and that call's
time is returned. Live, this is the previous tick's time; during a replay, None until the
projection has caught up with the topics.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime

from alliance_platform.lag import Position, log_bounds

log = logging.getLogger(__name__)


def caught_up(stored: Mapping[Position, int], ends: Mapping[Position, int]) -> bool:
    """The projection has stored, on every partition, at least the noted end."""
    return all(stored.get(position, 0) >= end for position, end in ends.items())


class CatchUp:
    """`positions`: the projection's stored positions (`lag.tracked_positions` of its slot)."""

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        positions: Callable[[], Awaitable[Mapping[Position, int]]],
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.positions = positions
        self._noted: tuple[datetime, dict[Position, int]] | None = None

    async def advance(self, now: datetime) -> datetime | None:
        """The time up to which the projection holds every record of its inputs, if known; then
        notes the inputs' ends with `now` for a later call. Kafka errors propagate (the caller
        retries on its next tick)."""
        _, ends = await log_bounds(self.bootstrap_servers, self.topics)
        known = {topic for topic, _ in ends}
        if missing := set(self.topics) - known:  # fail closed: no end, no time
            raise LookupError(f"topics without known partitions: {sorted(missing)}")
        complete = None
        if self._noted is not None:
            at, noted = self._noted
            stored = await self.positions()
            if caught_up(stored, noted):
                complete = at
            else:
                behind = sum(max(0, e - stored.get(p, 0)) for p, e in noted.items())
                log.info("projection not caught up: clock waits", extra={"lag": behind})
        self._noted = (now, ends)
        return complete

    def restart(self) -> None:
        """Forgets the noted ends. For a loop that has just recorded events on one of the input
        topics (through its outbox): the next time it gets is one with those events applied,
        so it does not decide the same thing again meanwhile."""
        self._noted = None

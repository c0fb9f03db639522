"""`alliance rebuild`: start a generation beside the live one and follow it to the switch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from alliance_cli.engines import KAFKA_ERRORS, Engines
from alliance_platform import projections
from alliance_platform.lag import projection_lag
from alliance_platform.projections import CatalogError, Generation, GenerationState, Purpose


async def start_rebuild(engines: Engines, projection: str) -> Generation:
    async with engines.database() as conn:
        if not await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f'"{projection}".generation'
        ):
            raise CatalogError(f"no projection named {projection!r}")
        live = await projections.live_generation(conn, projection)
        if live is None:
            raise CatalogError(f"{projection} has no live generation to rebuild")
        return await projections.begin(conn, projection, live.version, Purpose.REBUILD, live.topics)


@dataclass(frozen=True)
class RebuildProgress:
    generation: int
    state: str
    consumed: int  # events folded so far
    total: int  # events in its topics now
    lag: int
    elapsed: float
    rate: float  # events/s since the start of the watch

    @property
    def switched(self) -> bool:
        return self.state == GenerationState.LIVE

    @property
    def eta_seconds(self) -> float | None:
        return self.lag / self.rate if self.rate > 0 else None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "switched": self.switched, "eta_seconds": self.eta_seconds}


async def watch(
    engines: Engines,
    generation: Generation,
    give_up_after: float,
    report: Callable[[RebuildProgress], None] | None,
    interval: float = 1.0,
) -> RebuildProgress:
    """Polls the generation's state and lag until it is live or gone, or for `give_up_after` s."""
    started = time.monotonic()
    baseline: int | None = None
    async with engines.database() as conn:
        while True:
            state = await conn.fetchval(
                f'SELECT state FROM "{generation.projection}".generation WHERE number = $1',
                generation.number,
            )
            try:
                lags = await projection_lag(
                    conn, engines.kafka_bootstrap_servers, generation.schema, generation.topics
                )
            except KAFKA_ERRORS as exc:
                raise engines.kafka_error(exc) from None
            consumed = sum(p.position for p in lags)
            baseline = consumed if baseline is None else baseline
            elapsed = time.monotonic() - started
            progress = RebuildProgress(
                generation=generation.number,
                state=state,
                consumed=consumed,
                total=sum(p.end for p in lags),
                lag=sum(p.lag for p in lags),
                elapsed=elapsed,
                rate=(consumed - baseline) / elapsed if elapsed > 0 else 0.0,
            )
            if report is not None:
                report(progress)
            if state != GenerationState.BUILDING or elapsed > give_up_after:
                return progress
            await asyncio.sleep(interval)

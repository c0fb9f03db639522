"""Running a projection's generations in a service process (blue/green, see `projections`).

A `Projector` runs one generation: its tables in its slot, a connection pool whose
`search_path` is the slot (the projection's adapters name their tables unqualified), its
consumers (a FastStream broker with the generation's consumer group), its outbox relay and, while
it is live, the loops that only the live generation may run (the alerts clock). A building
generation's relay stays off: it publishes nothing until it is live, and it enqueues only what
the live generation has not consumed yet (`Frontier`), so the switch neither loses nor repeats
derived events (a batch astride the frontier may repeat a few, which consumers de-duplicate by
event id).

`Projections` is what the service's lifespan starts: it picks the generation this code runs (the
live one when the versions match, else a new `upgrade` generation built beside it), then watches
the catalog every few seconds: it switches a building generation live once its lag is under the
threshold, starts the generations an operator began (`alliance rebuild`, `alliance verify`), and
stops the ones that are no longer active here (retired, cancelled, dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData, Table

from alliance_platform import projections
from alliance_platform.db import create_pool, create_schema
from alliance_platform.lag import projection_lag, tracked_positions
from alliance_platform.outbox_relay import OutboxRelay
from alliance_platform.projections import (
    ACTIVE,
    CatalogError,
    Generation,
    GenerationState,
    Purpose,
)

log = logging.getLogger(__name__)


class WrongVersion(Exception):
    """This code builds an older projection version than the live one: refuse to start."""


@dataclass(frozen=True)
class Frontier:
    """While a generation builds: the live generation's slot, whose tracked positions say which
    inputs the live one has already consumed (and published what they derive)."""

    live_schema: str

    async def behind(
        self, conn: asyncpg.pool.PoolConnectionProxy, batch: dict[tuple[str, int], int]
    ) -> bool:
        """Whether every record of the batch (its highest offset per partition) is below the
        live generation's position: the live one has published what they derive."""
        live = await tracked_positions(conn, self.live_schema)
        return all(offset < live.get(tp, 0) for tp, offset in batch.items())


@dataclass
class GenerationRuntime:
    """What a generation's consumers and loops reach: its pool, its relay, its frontier."""

    generation: Generation
    pool: asyncpg.Pool
    relay: OutboxRelay
    frontier: Frontier | None = None

    @property
    def schema(self) -> str:
        return self.generation.schema


Loop = Callable[[GenerationRuntime], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class ProjectionSpec:
    """A projection as its service declares it."""

    name: str  # its stable schema (where the catalog and the views are)
    version: int  # bump when the tables or the fold change shape
    tables: Sequence[Table]  # every table of a slot, read models included
    read_models: Sequence[str]  # the tables readers see through the stable views
    topics: Sequence[str]  # what it consumes
    build_broker: Callable[[GenerationRuntime], KafkaBroker]
    live_loops: Sequence[Loop] = ()  # only the live generation runs them


def in_slot(tables: Sequence[Table], schema: str) -> list[Table]:
    """Copies of the tables in a slot's schema."""
    metadata = MetaData(schema=schema)
    return [t.to_metadata(metadata, schema=schema) for t in tables]


@dataclass
class Projector:
    spec: ProjectionSpec
    runtime: GenerationRuntime
    broker: KafkaBroker
    loops: list[asyncio.Task[None]] = field(default_factory=list)
    publishing: bool = False

    @property
    def generation(self) -> Generation:
        return self.runtime.generation

    async def start(self) -> None:
        await self.broker.start()
        if self.generation.state is GenerationState.LIVE:
            self.go_live()

    def go_live(self) -> None:
        """Publishes and runs the live loops from now on (after a switch, or at start)."""
        if self.publishing:
            return
        self.publishing = True
        self.runtime.frontier = None
        self.runtime.relay.start()
        self.runtime.relay.wake()
        self.loops = [asyncio.create_task(loop(self.runtime)) for loop in self.spec.live_loops]

    async def stop(self, *, drain_seconds: float = 10.0) -> None:
        """Stops consuming; a generation that published first publishes what it still holds."""
        for task in self.loops:
            task.cancel()
        await asyncio.gather(*self.loops, return_exceptions=True)
        await self.broker.stop()
        if self.publishing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    while await self.runtime.relay.pending():
                        self.runtime.relay.wake()
                        await asyncio.sleep(0.2)
            await self.runtime.relay.stop()
        await self.runtime.pool.close()


@dataclass
class ProjectionSettings:
    database_url: str
    bootstrap_servers: str
    pool_size: int
    client_id: str
    switch_lag: int = 100  # events behind (all partitions) under which a build goes live
    watch_seconds: float = 2.0


class Projections:
    """The generations of one projection that this process runs."""

    def __init__(self, spec: ProjectionSpec, settings: ProjectionSettings) -> None:
        self.spec = spec
        self.settings = settings
        self.running: dict[int, Projector] = {}
        self._catalog: asyncpg.Pool | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return bool(self.running)

    async def start(self) -> None:
        catalog = await create_pool(self.settings.database_url, 2)
        self._catalog = catalog
        async with catalog.acquire() as conn:
            await projections.ensure_catalog(
                conn, self.spec.name, self.spec.read_models, self.spec.topics
            )
            generation = await self._generation_to_run(conn)
        await self._run(generation)
        self._watch = asyncio.create_task(self._watch_catalog(), name=f"{self.spec.name}-watch")

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for projector in list(self.running.values()):
            await projector.stop()
        self.running.clear()
        if self._catalog is not None:
            await self._catalog.close()

    async def _generation_to_run(self, conn: asyncpg.pool.PoolConnectionProxy) -> Generation:
        live = await projections.live_generation(conn, self.spec.name)
        if live is not None and live.version == self.spec.version:
            return live
        if live is not None and live.version > self.spec.version:
            raise WrongVersion(
                f"{self.spec.name} is live at version {live.version}; this code builds version "
                f"{self.spec.version} and will not replace a newer projection"
            )
        return await projections.begin(
            conn, self.spec.name, self.spec.version, Purpose.UPGRADE, self.spec.topics
        )

    async def _run(self, generation: Generation) -> None:
        schema = generation.schema
        await create_schema(self.settings.database_url, schema, in_slot(self.spec.tables, schema))
        catalog = self._require_catalog()
        frontier = None
        async with catalog.acquire() as conn:
            live = await projections.live_generation(conn, self.spec.name)
            if generation.state is GenerationState.LIVE:
                async with conn.transaction():
                    await projections.point_views(
                        conn, self.spec.name, generation.slot, self.spec.read_models
                    )
            elif live is not None:
                frontier = Frontier(live.schema)
        pool = await create_pool(
            self.settings.database_url, self.settings.pool_size, search_path=schema
        )
        relay = OutboxRelay(pool, schema, self.settings.bootstrap_servers, self.settings.client_id)
        runtime = GenerationRuntime(generation, pool, relay, frontier)
        projector = Projector(self.spec, runtime, self.spec.build_broker(runtime))
        await projector.start()
        self.running[generation.number] = projector
        log.info(
            "running a projection generation",
            extra={
                "projection": self.spec.name,
                "generation": generation.number,
                "state": generation.state.value,
            },
        )

    def _require_catalog(self) -> asyncpg.Pool:
        if self._catalog is None:
            raise RuntimeError("projections are not started")
        return self._catalog

    async def _watch_catalog(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watch_seconds)
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watching the projection catalog failed; retrying")

    async def reconcile(self) -> None:
        """One look at the catalog: switch a build that has caught up, then start, promote or
        stop generations to match the catalog."""
        found = await self._catalog_now()
        for number in list(self.running):
            generation = found.get(number)
            building = generation is not None and generation.state is GenerationState.BUILDING
            if building and generation and await self._switch_when_caught_up(generation):
                found = await self._catalog_now()
        for number, projector in list(self.running.items()):
            generation = found.get(number)
            if generation is None or generation.state not in ACTIVE:
                del self.running[number]
                await projector.stop()
            elif generation.state is GenerationState.LIVE:
                projector.runtime.generation = generation
                projector.go_live()
        for generation in found.values():
            if (
                generation.state in ACTIVE
                and generation.version == self.spec.version
                and generation.number not in self.running
            ):
                await self._run(generation)

    async def _catalog_now(self) -> dict[int, Generation]:
        async with self._require_catalog().acquire() as conn:
            return {g.number: g for g in await projections.generations(conn, self.spec.name)}

    async def _switch_when_caught_up(self, generation: Generation) -> bool:
        async with self._require_catalog().acquire() as conn:
            lags = await projection_lag(
                conn, self.settings.bootstrap_servers, generation.schema, generation.topics
            )
            behind = sum(p.lag for p in lags)
            if behind > self.settings.switch_lag:
                return False
            try:
                await projections.switch(
                    conn, self.spec.name, generation.number, self.spec.read_models
                )
            except CatalogError as exc:  # another replica switched first, or it was cancelled
                log.info("no switch", extra={"projection": self.spec.name, "why": str(exc)})
                return False
        log.info(
            "switched readers to a new generation",
            extra={"projection": self.spec.name, "generation": generation.number, "lag": behind},
        )
        return True

"""Running a projection's generations in a service process (blue/green, see `projections`).

A `Projector` runs one generation: its tables in its slot, a connection pool whose
`search_path` is the slot (the projection's adapters name their tables unqualified), its
consumers (a FastStream broker with the generation's consumer groups), its outbox relay and,
while it is live, the loops only the live generation may run (the alerts clock). A building
generation's relay stays off: it publishes nothing until it is live, and it enqueues only what
the live generation has not consumed yet (its `frontier`, see `PostgresUnitOfWork`), so the
switch neither loses nor repeats derived events (a batch astride the frontier may repeat a
few, which consumers drop by event id).

`Projections` is what the service's lifespan starts: it picks the generation this code runs (the
live one when the versions match, else a new `upgrade` generation built beside it), then watches
the catalog every few seconds: it switches a building generation live once its lag is under the
threshold, starts the generations an operator began (`alliance rebuild`, `alliance verify`), and
stops the ones that are no longer active (retired, cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
from faststream.kafka import KafkaBroker
from sqlalchemy import MetaData, Table

from alliance_platform import projections
from alliance_platform.broker import consuming
from alliance_platform.db import create_pool, create_schema
from alliance_platform.lag import projection_lag
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


@dataclass
class GenerationRuntime:
    """What a generation's consumers and loops reach: its pool (`search_path`: its slot), its
    relay, and while it builds, the live generation's slot (`frontier`), whose tracked
    positions say which inputs the live one has consumed already."""

    generation: Generation
    pool: asyncpg.Pool
    relay: OutboxRelay
    frontier: str | None = None

    @property
    def schema(self) -> str:
        return self.generation.schema

    @property
    def group(self) -> str:
        return self.generation.group

    def require(self) -> tuple[asyncpg.Pool, OutboxRelay]:
        return self.pool, self.relay

    def live_frontier(self) -> str | None:
        return self.frontier


def documentation_runtime(projection: str) -> GenerationRuntime:
    """A generation that never runs: for building a service's broker to document it (AsyncAPI
    is generated from the subscribers and publishers; nothing is consumed)."""
    never = Generation(
        projection,
        0,
        0,
        projections.SLOTS[0],
        GenerationState.DROPPED,
        Purpose.INSTALL,
        datetime.now(UTC),
        None,
        (),
        f"{projection}-g<N>",  # how the docs name a generation's groups
    )
    return GenerationRuntime(never, cast(asyncpg.Pool, None), cast(OutboxRelay, None))


Loop = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class Consumers:
    """What a generation runs: its broker (its subscribers), the loops that run as long as it
    does (parked records, pruning), and those only the live generation may run (a clock)."""

    broker: KafkaBroker
    loops: Sequence[Loop] = ()
    live_loops: Sequence[Loop] = ()


@dataclass(frozen=True)
class ProjectionSpec:
    """A projection as its service declares it."""

    name: str  # its stable schema (where the catalog and the views are)
    version: int  # bump when the tables or the fold change shape
    tables: Sequence[Table]  # every table of a slot, read models included
    read_models: Sequence[str]  # the tables readers see through the stable views
    topics: Sequence[str]  # what it consumes
    build: Callable[[GenerationRuntime], Consumers]


def in_slot(tables: Sequence[Table], schema: str) -> list[Table]:
    """Copies of the tables in a slot's schema."""
    metadata = MetaData(schema=schema)
    return [t.to_metadata(metadata, schema=schema) for t in tables]


@dataclass
class Projector:
    """One generation running in this process."""

    runtime: GenerationRuntime
    consumers: Consumers
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    publishing: bool = False

    @property
    def generation(self) -> Generation:
        return self.runtime.generation

    async def start(self) -> None:
        await self.consumers.broker.start()
        self.tasks = [asyncio.create_task(loop()) for loop in self.consumers.loops]
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
        self.tasks += [asyncio.create_task(loop()) for loop in self.consumers.live_loops]

    async def stop(self, *, drain_seconds: float = 10.0) -> None:
        """Stops consuming; a generation that published first publishes what it still holds."""
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.consumers.broker.stop()  # finishes the batch in hand first
        relay = self.runtime.relay
        if self.publishing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_seconds):
                    while await relay.pending():
                        relay.wake()
                        await asyncio.sleep(0.2)
            await relay.stop()
        await self.runtime.pool.close()


@dataclass(frozen=True)
class ProjectionSettings:
    database_url: str
    bootstrap_servers: str
    pool_size: int
    client_id: str
    message_max_bytes: int
    switch_lag: int  # events behind (all partitions) under which a build goes live
    watch_seconds: float  # how often the catalog is looked at


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

    def consuming(self) -> bool:
        """Each generation it runs has joined its groups and holds partitions, or has none to
        have (`broker.consuming`)."""
        return self.ready and all(consuming(p.consumers.broker) for p in self.running.values())

    def running_brokers(self) -> list[KafkaBroker]:
        return [p.consumers.broker for p in self.running.values()]

    def running_relays(self) -> list[OutboxRelay]:
        return [p.runtime.relay for p in self.running.values()]

    def live(self) -> GenerationRuntime | None:
        """The live generation, when this process runs it."""
        return next(
            (
                p.runtime
                for p in self.running.values()
                if p.generation.state is GenerationState.LIVE
            ),
            None,
        )

    async def start(self) -> None:
        try:
            await self._run(await self._choose())
        except BaseException:
            await self.stop()
            raise
        self._watch = asyncio.create_task(self._watch_catalog(), name=f"{self.spec.name}-watch")

    async def prepare(self) -> Generation:
        """What `start` does but run consumers: the catalog, the generation this code runs, its
        tables (and the views, when it is live). For tools and tests that write a projection's
        tables as the service would."""
        generation = await self._choose()
        await self._tables(generation)
        return generation

    async def _choose(self) -> Generation:
        if self._catalog is None:
            self._catalog = await create_pool(self.settings.database_url, 2)
        async with self._catalog.acquire() as conn:
            await projections.ensure_catalog(
                conn, self.spec.name, self.spec.read_models, self.spec.topics
            )
            return await self._generation_to_run(conn)

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        for projector in list(self.running.values()):
            await projector.stop()
        self.running.clear()
        if self._catalog is not None:
            await self._catalog.close()
            self._catalog = None

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

    async def _tables(self, generation: Generation) -> str | None:
        """Creates the generation's tables; points the views at them when it is live, else
        returns the live generation's slot (its frontier). A newer version building beside
        the live one adds its new columns to the live views, as NULLs, until its switch: the
        gateway of the same release reads them meanwhile (CONTRIBUTING, "Change a projection's
        shape")."""
        schema = generation.schema
        await create_schema(self.settings.database_url, schema, in_slot(self.spec.tables, schema))
        async with self._require_catalog().acquire() as conn:
            if generation.state is GenerationState.LIVE:
                await projections.repoint(
                    conn, self.spec.name, generation.slot, self.spec.read_models
                )
                return None
            live = await projections.live_generation(conn, self.spec.name)
            if live is None:
                return None
            if live.version < generation.version:
                await projections.repoint(
                    conn,
                    self.spec.name,
                    live.slot,
                    self.spec.read_models,
                    adding_from=generation.slot,
                )
            return live.schema

    async def _run(self, generation: Generation) -> None:
        schema = generation.schema
        frontier = await self._tables(generation)
        pool = await create_pool(
            self.settings.database_url, self.settings.pool_size, search_path=schema
        )
        relay = OutboxRelay(
            pool,
            schema,
            self.settings.bootstrap_servers,
            self.settings.client_id,
            max_message_bytes=self.settings.message_max_bytes,
        )
        runtime = GenerationRuntime(generation, pool, relay, frontier)
        projector = Projector(runtime, self.spec.build(runtime))
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
                log.info(
                    "stopping a projection generation",
                    extra={"projection": self.spec.name, "generation": number},
                )
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

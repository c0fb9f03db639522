"""How far a projection has read its topics, for the loops that decide from it.

A clock loop (alerts' escalations) decides from the projection what is due. During a replay
(a rebuild, a new consumer group reading from the start) the projection is half built: an
alert may be raised while the acknowledgement that came before its due time is not applied
yet. So such a loop decides only up to a time the projection is complete for:

    catch_up = CatchUp(bootstrap, {"alliance.scored.v1": "alerts-g3-...", ...}, "alerts-clock",
                       positions)   # the positions the projection stored
    until = await catch_up.advance(clock())   # None: not caught up (yet)

Each `advance(now)` notes the end offsets of the input topics with `now`. When the positions
the projection stored (with each batch's PostgreSQL transaction) have reached the offsets
noted at an earlier call, every record that was in the topics then is applied, and
that call's time is returned. Live, this is the previous tick's time; during a replay, None
until the groups have caught up with the topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from alliance_platform.kafka import kafka_client_options

log = logging.getLogger(__name__)

# (consumer group, topic, partition) -> offset
Offsets = dict[tuple[str, str, int], int]


def caught_up(committed: Mapping[tuple[str, str, int], int], ends: Offsets) -> bool:
    """Every group has committed, on every partition, at least up to the noted end."""
    return all(committed.get(position, 0) >= end for position, end in ends.items())


class CatchUp:
    """`inputs`: topic name -> the consumer group that applies it to the projection."""

    def __init__(
        self,
        bootstrap_servers: str,
        inputs: Mapping[str, str],
        client_id: str,
        positions: Callable[[], Awaitable[Mapping[tuple[str, int], int]]],
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.inputs = dict(inputs)
        self.positions = positions
        self.client_id = client_id
        self._noted: tuple[datetime, Offsets] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def advance(self, now: datetime) -> datetime | None:
        """The time up to which the projection holds every record of its inputs, if known; then
        notes the inputs' ends with `now` for a later call. Kafka errors propagate (the caller
        retries on its next tick) after the clients are dropped."""
        try:
            ends = await self._ends()
            complete = None
            if self._noted is not None:
                at, noted = self._noted
                committed = await self._committed()
                if caught_up(committed, noted):
                    complete = at
                else:
                    behind = sum(max(0, e - committed.get(p, 0)) for p, e in noted.items())
                    log.info("projection not caught up: clock waits", extra={"lag": behind})
            self._noted = (now, ends)
            return complete
        except Exception:
            await self.close()
            raise

    def restart(self) -> None:
        """Forgets the noted ends. For a loop that has just recorded events on one of the input
        topics (through its outbox): the next time it gets is one with those events applied,
        so it does not decide the same thing again meanwhile."""
        self._noted = None

    async def close(self) -> None:
        admin, consumer, self._admin, self._consumer = self._admin, self._consumer, None, None
        with contextlib.suppress(Exception):
            if consumer is not None:
                await consumer.stop()
        with contextlib.suppress(Exception):
            if admin is not None:
                await admin.close()

    async def _ends(self) -> Offsets:
        admin = await self._admin_client()
        partitions = []
        async with asyncio.timeout(15):
            described = await admin.describe_topics(list(self.inputs))
        for topic in described:
            if topic["error_code"] or not topic["partitions"]:  # fail closed: no end, no time
                raise LookupError(f"topic {topic['topic']}: no partitions known")
            partitions += [
                TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]
            ]
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_auto_commit=False,
                **kafka_client_options(),
            )
            await consumer.start()
            self._consumer = consumer
        async with asyncio.timeout(15):
            ends = await self._consumer.end_offsets(partitions)
        return {(self.inputs[tp.topic], tp.topic, tp.partition): off for tp, off in ends.items()}

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                **kafka_client_options(),
            )
            await admin.start()
            self._admin = admin
        return self._admin

    async def _committed(self) -> dict[tuple[str, str, int], int]:
        """The positions the projection stored with what it applied (not Kafka's committed
        offsets: a new generation's groups commit nothing until their first batch)."""
        stored = await self.positions()
        return {
            (self.inputs[topic], topic, partition): position
            for (topic, partition), position in stored.items()
            if topic in self.inputs
        }

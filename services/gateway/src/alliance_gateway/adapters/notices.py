"""Live alert notices for subscriptions: one fan-out reader of the notices topic per gateway
process (no consumer group: every instance sees every notice), broadcast to its subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from alliance_contracts.events import AlertNotice
from alliance_contracts.topics import NOTICES
from alliance_platform.kafka import kafka_client_options

log = logging.getLogger(__name__)


class NoticeHub:
    def __init__(self, bootstrap_servers: str, queue_size: int = 1000) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.queue_size = queue_size
        self._subscribers: set[asyncio.Queue[AlertNotice]] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notice-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                NOTICES.name,
                bootstrap_servers=self.bootstrap_servers,
                auto_offset_reset="latest",
                enable_auto_commit=False,
                **kafka_client_options(),
            )
            try:
                await consumer.start()
                async for record in consumer:
                    try:
                        notice = AlertNotice.model_validate_json(record.value or b"")
                    except ValidationError:
                        continue
                    for queue in list(self._subscribers):
                        with contextlib.suppress(asyncio.QueueFull):  # a slow client drops
                            queue.put_nowait(notice)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notice reader failed; reconnecting")
                await asyncio.sleep(2)
            finally:
                await consumer.stop()

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[AlertNotice]]:
        queue: asyncio.Queue[AlertNotice] = asyncio.Queue(self.queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

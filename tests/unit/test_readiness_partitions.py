"""A consumer service is ready only when its tracked consumers have joined their groups and
know their topics' partitions (`alliance_platform.tracking.has_work_or_none_to_have`): one that
joined before its topics existed holds nothing and must not answer ready."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiokafka import TopicPartition

from alliance_platform.tracking import SeekToStoredPositions, Tracking, has_work_or_none_to_have

TOPIC = "alliance.responses.v1"


@dataclass
class _Consumer:
    known: dict[str, set[int]] = field(default_factory=dict)  # the consumer's metadata

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.known.get(topic)


@dataclass
class _Subscriber:
    consumer: _Consumer


def _listener(consumer: _Consumer) -> SeekToStoredPositions:
    tracking = Tracking(lambda: None, "scoring_blue", TOPIC)  # type: ignore[arg-type,return-value]
    listener = SeekToStoredPositions(tracking)
    listener.subscriber, listener.topics = _Subscriber(consumer), (TOPIC,)
    return listener


def test_not_ready_before_the_group_assigned_anything() -> None:
    assert not has_work_or_none_to_have(_listener(_Consumer({TOPIC: {0, 1}})))


def test_not_ready_when_it_joined_before_its_topic_existed() -> None:
    listener = _listener(_Consumer())  # its metadata knows no partitions of the topic
    asyncio.run(listener.on_partitions_assigned(set()))
    assert not has_work_or_none_to_have(listener)


def test_ready_with_partitions_or_with_none_left_to_have() -> None:
    consumer = _Consumer({TOPIC: {0, 1}})
    spare = _listener(consumer)  # a third member of a group over two partitions
    asyncio.run(spare.on_partitions_assigned(set()))
    assert has_work_or_none_to_have(spare)
    working = _listener(consumer)
    working.assignment = frozenset({TopicPartition(TOPIC, 0)})
    assert has_work_or_none_to_have(working)

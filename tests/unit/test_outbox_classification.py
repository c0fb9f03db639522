"""Which Kafka refusals park an outbox row (the row's own fault) and which are waited out."""

from __future__ import annotations

import random

import pytest
from aiokafka.errors import (
    InvalidTopicError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    RecordTooLargeError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
    UnsupportedForMessageFormatError,
)
from aiokafka.partitioner import DefaultPartitioner

from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES, partition_of
from alliance_platform.outbox_relay import is_row_fault, record_size


@pytest.mark.parametrize(
    "error",
    [MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError, InvalidTopicError],
)
def test_a_refusal_of_the_record_itself_parks_it(error: type[KafkaError]) -> None:
    assert is_row_fault(error())


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError,  # the broker is down
        KafkaTimeoutError,
        RequestTimedOutError,
        NotLeaderForPartitionError,  # a leader moving
        NotEnoughReplicasError,
        UnknownTopicOrPartitionError,  # not provisioned yet: every row of the topic alike
        TopicAuthorizationFailedError,  # our credentials: every row alike
        OutOfOrderSequenceNumber,  # a spent producer: a fresh one sends the row
        UnsupportedForMessageFormatError,  # a broker too old for headers: every row alike
    ],
)
def test_the_state_of_the_cluster_parks_nothing(error: type[KafkaError]) -> None:
    assert not is_row_fault(error())


def test_the_size_check_counts_value_key_and_headers() -> None:
    headers = [("event_type", b"response.submitted"), ("clinic_id", b"clinic-north")]
    value = b"x" * (DEFAULT_MESSAGE_MAX_BYTES - 200)
    size = record_size(b"case-1", value, headers)
    assert size > len(value) + len(b"case-1") + sum(len(k) + len(v) for k, v in headers)
    assert record_size(b"case-1", value + b"x" * 200, headers) > DEFAULT_MESSAGE_MAX_BYTES


def test_the_relay_puts_a_key_where_the_producer_would() -> None:
    """The relay builds its record batches per partition: the partition must be the one
    `producer.send` picks for the key (aiokafka's default partitioner), or a key's rows would
    change partition, and order, across the change."""
    partitioner = DefaultPartitioner()
    rng = random.Random(12)
    for count in (1, 3, 12, 50):
        partitions = list(range(count))
        for _ in range(300):
            key = rng.randbytes(rng.randrange(1, 40))
            assert partition_of(key, partitions) == partitioner(key, partitions, partitions)

"""Which Kafka refusals park an outbox row (the row's own fault) and which are waited out."""

from __future__ import annotations

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

from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES
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

"""Dead letters within the broker's limit, and every topic's records typed for a redrive."""

from __future__ import annotations

from alliance_contracts.topics import ALL_TOPICS, DEAD_LETTER, event_union
from alliance_platform.dead_letters import (
    HEADROOM_BYTES,
    Source,
    dead_letter_headers,
    fit_to_limit,
)
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES

SOURCE = Source("alliance.responses.v1", 3, 42, b"case-1", b"{}", (("event_type", b"x"),))


def test_a_dead_letter_that_fits_keeps_its_body_and_the_original_headers() -> None:
    headers = dead_letter_headers(SOURCE, "invalid event: x", "scoring")
    value, sent = fit_to_limit(SOURCE, headers, DEFAULT_MESSAGE_MAX_BYTES)
    assert value == b"{}"
    assert sent == {
        "event_type": "x",
        "dlq_reason": "invalid event: x",
        "dlq_service": "scoring",
        "dlq_source": "alliance.responses.v1/3/42",
    }


def test_a_dead_letter_too_large_is_truncated_with_a_pointer_to_the_original() -> None:
    limit = 100_000
    big = Source(SOURCE.topic, 3, 42, b"case-1", b"y" * limit, SOURCE.headers)
    value, sent = fit_to_limit(big, dead_letter_headers(big, "too big", "scoring"), limit)
    size = len(value) + len(b"case-1") + sum(len(k) + len(v.encode()) for k, v in sent.items())
    assert size <= limit - HEADROOM_BYTES
    assert big.value.startswith(value)
    assert sent["dlq_truncated"] == "true"
    assert sent["dlq_original"] == "alliance.responses.v1/3/42"


def test_every_topic_but_the_dead_letters_declares_its_events() -> None:
    for topic in ALL_TOPICS:
        if topic is not DEAD_LETTER:
            assert event_union(topic.name) is not None

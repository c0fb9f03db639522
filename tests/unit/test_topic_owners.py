"""Each topic has one producer, and the AsyncAPI documents say so: a service's document
publishes only to the topics it owns."""

from __future__ import annotations

import json
from pathlib import Path

from alliance_shared.topics import ALL_TOPICS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


def test_services_publish_only_to_their_own_topics() -> None:
    producer = {t.name: t.producer for t in ALL_TOPICS}
    publishers: dict[str, set[str]] = {}
    for doc in sorted(DOCS.glob("*.json")):
        spec = json.loads(doc.read_text())
        for operation in spec["operations"].values():
            if operation["action"] == "send":
                key = operation["channel"]["$ref"].removeprefix("#/channels/")
                topic = spec["channels"][key]["address"]
                publishers.setdefault(topic, set()).add(doc.stem)
    assert publishers, "no publishers found in the AsyncAPI documents"
    for topic, services in publishers.items():
        assert services == {producer[topic]}, (topic, services)
    for spec in ALL_TOPICS:
        assert spec.producer == "*" or f"Producer: {spec.producer}." in spec.description

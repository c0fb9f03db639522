"""Each topic has one producer, and the AsyncAPI documents say so: a service's document
publishes only to the topics it owns."""

from __future__ import annotations

import json
from pathlib import Path

from alliance_contracts.topics import ALL_TOPICS

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


def test_each_topic_keys_its_records_itself() -> None:
    from alliance_contracts.events import CLINIC_LEVEL_CASE_ID
    from tests.helpers import submitted_event

    event = submitted_event("clinic-k", "case-k", 1, 9)
    keys = {t.name: t.key for t in ALL_TOPICS}
    assert keys["alliance.responses.v1"] == "case"
    assert keys["alliance.config.v1"] == "clinic"
    assert keys["alliance.audit.v1"] == "clinic"
    for spec in ALL_TOPICS:
        if spec.key == "original":
            continue
        assert spec.key_of(event) == ("case-k" if spec.key == "case" else "clinic-k")
        assert f"(key: {spec.key} id)" in spec.description
    assert CLINIC_LEVEL_CASE_ID  # clinic events carry a placeholder case id; they key by clinic

"""The Kafka ACLs (`alliance_contracts.kafka_acls`) against the catalogue and the code: every
subscriber of every service can read its topic in its group, every publisher can write its
topic, and nothing more (no service writes a topic it does not own; only alerts reads the
commands topic, only the gateway writes it). docs/operations.md carries the same table."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faststream import FastStream

from alliance_contracts.kafka_acls import (
    SERVICES,
    KafkaAcl,
    acl_table,
    all_acls,
    default_principal,
    group_prefix,
    reads,
    service_acls,
    writes,
)
from alliance_contracts.topics import ALL_TOPICS, AUDIT, COMMANDS, DEAD_LETTER, INTAKE_COMMANDS
from alliance_platform import projections
from alliance_platform.provisioning import principals

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def brokers() -> dict[str, Any]:
    """Each service's FastStream broker as the AsyncAPI documents are generated from it."""
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    from alliance_alerts.entrypoints.app import asyncapi as alerts
    from alliance_gateway.entrypoints.asyncapi import asyncapi as gateway
    from alliance_intake.entrypoints.asyncapi import asyncapi as intake
    from alliance_scoring.entrypoints.app import asyncapi as scoring

    factories: dict[str, Callable[[], FastStream]] = {
        "intake": intake,
        "scoring": scoring,
        "alerts": alerts,
        "gateway": gateway,
    }
    return {name: factory().broker for name, factory in factories.items()}


def allowed(service: str, operation: str, resource_type: str, name: str) -> bool:
    """What the authorizer would decide for the service's principal (literal and prefixed)."""
    for acl in service_acls(service):
        if (acl.operation, acl.resource_type) != (operation, resource_type):
            continue
        if acl.resource_name == name or (
            acl.pattern_type == "PREFIXED" and name.startswith(acl.resource_name)
        ):
            return True
    return False


def test_every_subscriber_may_read_its_topic_in_its_group(brokers: dict[str, Any]) -> None:
    seen = 0
    for service, broker in brokers.items():
        for subscriber in broker.subscribers:
            group = subscriber.group_id
            for topic in subscriber.topic_names:
                seen += 1
                assert allowed(service, "READ", "TOPIC", topic), (service, topic)
                if group is None:  # a watcher: no group, so no offsets and no dead letters
                    assert any(service in t.watchers for t in ALL_TOPICS if t.name == topic)
                    continue
                # The documents' generation `<projection>-g<N>`: the real ones as made below.
                real = group.replace("<N>", "3-a1b2c3")
                assert allowed(service, "READ", "GROUP", real), (service, group)
                assert allowed(service, "WRITE", "TOPIC", DEAD_LETTER.name), service
    assert seen >= 9


def test_a_projection_generation_s_groups_carry_its_service_s_prefix() -> None:
    for service in ("scoring", "alerts"):
        assert projections._group(service, 7).startswith(group_prefix(service))


def test_every_publisher_may_write_its_topic_and_only_its_own(brokers: dict[str, Any]) -> None:
    for service, broker in brokers.items():
        for publisher in broker.publishers:
            assert allowed(service, "WRITE", "TOPIC", publisher.topic), (service, publisher)
    owner = {t.name: t.producer for t in ALL_TOPICS}
    for service in SERVICES:
        for topic in writes(service):
            assert owner[topic] in (service, "*"), (service, topic)


def test_the_commands_topics_are_written_by_the_gateway_alone() -> None:
    for topic, reader in ((COMMANDS.name, "alerts"), (INTAKE_COMMANDS.name, "intake")):
        assert [s for s in SERVICES if allowed(s, "WRITE", "TOPIC", topic)] == ["gateway"]
        assert [s for s in SERVICES if allowed(s, "READ", "TOPIC", topic)] == [reader]


def test_the_record_of_reads_and_the_dead_letters_are_read_by_the_operator_alone() -> None:
    for topic in (AUDIT.name, DEAD_LETTER.name):
        assert not [s for s in SERVICES if topic in reads(s)]
    # The gateway consumes in no group: it dead-letters nothing and holds no group.
    assert DEAD_LETTER.name not in writes("gateway")
    assert not [a for a in service_acls("gateway") if a.resource_type == "GROUP"]


def test_groups_are_per_service_and_never_cross() -> None:
    prefixes = [a.resource_name for a in all_acls() if a.resource_type == "GROUP"]
    assert sorted(prefixes) == ["alerts-", "intake-", "scoring-"]
    for a in prefixes:
        assert not [b for b in prefixes if a != b and b.startswith(a)]


def test_principals_may_be_named_by_the_operator() -> None:
    acls = all_acls({"intake": "User:sa-1234"})
    assert {a.principal for a in acls if a.resource_name == "alliance.responses.v1"} == {
        "User:sa-1234",
        default_principal("scoring"),
    }
    assert KafkaAcl("User:x", "GROUP", "intake-", "PREFIXED", "READ").kafka_acls_args() == (
        "--allow-principal User:x --operation Read --group intake- --resource-pattern-type prefixed"
    )


def test_the_provisioner_takes_principals_by_service_only() -> None:
    assert principals(["intake=User:sa-1"]) == {"intake": "User:sa-1"}
    for wrong in (["intake"], ["billing=User:x"], ["intake=sa-1"]):
        with pytest.raises(SystemExit):
            principals(wrong)


def test_the_operations_guide_lists_the_acls() -> None:
    assert acl_table() in (REPO / "docs" / "operations.md").read_text(), (
        "docs/operations.md's ACL table is not alliance_contracts.kafka_acls.acl_table()"
    )

"""The Kafka ACLs of each service's principal, derived from the topic catalogue (`topics`): a
service may write only the topics it produces (and the dead-letter topic, when it consumes in a
group), read only the topics it consumes or watches, and use only consumer groups named after
it. Everything else is refused by the brokers' authorizer (`allow.everyone.if.no.acl.found=false`).

The provisioner (`python -m alliance_platform.provisioning --acls`) creates these; the operator
of a managed cluster creates the same (docs/operations.md, "Kafka principals and ACLs").

Kafka's implied operations keep the list short: WRITE and READ on a topic imply DESCRIBE, READ on
a group implies DESCRIBE. The producers are idempotent (not transactional): on Kafka 3.0+ WRITE
on a topic is enough to get a producer id (no IdempotentWrite on the cluster), and no
TransactionalId is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alliance_contracts.topics import ALL_TOPICS, DEAD_LETTER, TopicSpec

SERVICES = ("intake", "scoring", "alerts", "gateway")

ResourceType = Literal["TOPIC", "GROUP"]
PatternType = Literal["LITERAL", "PREFIXED"]
Operation = Literal["READ", "WRITE"]


@dataclass(frozen=True, order=True)
class KafkaAcl:
    """One ALLOW rule, from any host."""

    principal: str  # "User:<name>"
    resource_type: ResourceType
    resource_name: str
    pattern_type: PatternType
    operation: Operation

    def kafka_acls_args(self) -> str:
        """The same rule as arguments of Kafka's `kafka-acls.sh --add`."""
        resource = "--topic" if self.resource_type == "TOPIC" else "--group"
        return (
            f"--allow-principal {self.principal} --operation {self.operation.capitalize()} "
            f"{resource} {self.resource_name} --resource-pattern-type {self.pattern_type.lower()}"
        )


def default_principal(service: str) -> str:
    """The SASL user a service logs in as, by convention (the launcher's, compose's)."""
    return f"User:alliance-{service}"


def group_prefix(service: str) -> str:
    """Every consumer group of a service starts with this (`intake-commands`, `scoring-g3-…`,
    `alerts-g3-…-config`, `alerts-delivery`)."""
    return f"{service}-"


def writes(service: str, topics: tuple[TopicSpec, ...] = ALL_TOPICS) -> tuple[str, ...]:
    """The topics a service produces; the dead-letter topic when it consumes in a group."""
    consumes = any(service in t.consumers for t in topics)
    return tuple(
        t.name for t in topics if t.producer == service or (t.name == DEAD_LETTER.name and consumes)
    )


def reads(service: str, topics: tuple[TopicSpec, ...] = ALL_TOPICS) -> tuple[str, ...]:
    return tuple(t.name for t in topics if service in t.consumers or service in t.watchers)


def service_acls(
    service: str, principal: str | None = None, topics: tuple[TopicSpec, ...] = ALL_TOPICS
) -> tuple[KafkaAcl, ...]:
    """The ALLOW rules of one service's principal, sorted."""
    who = principal or default_principal(service)
    acls = {KafkaAcl(who, "TOPIC", name, "LITERAL", "WRITE") for name in writes(service, topics)}
    acls |= {KafkaAcl(who, "TOPIC", name, "LITERAL", "READ") for name in reads(service, topics)}
    if any(service in t.consumers for t in topics):
        acls.add(KafkaAcl(who, "GROUP", group_prefix(service), "PREFIXED", "READ"))
    return tuple(sorted(acls))


def all_acls(principals: dict[str, str] | None = None) -> tuple[KafkaAcl, ...]:
    """Every service's rules; `principals` maps a service to its principal (default: by
    convention)."""
    given = principals or {}
    return tuple(acl for s in SERVICES for acl in service_acls(s, given.get(s)))


def acl_table(principals: dict[str, str] | None = None) -> str:
    """The rules as a Markdown table (docs/operations.md carries it; a unit test compares)."""
    rows = ["| principal | operation | resource | pattern |", "| --- | --- | --- | --- |"]
    for acl in all_acls(principals):
        rows.append(
            f"| `{acl.principal}` | {acl.operation} | {acl.resource_type.lower()} "
            f"`{acl.resource_name}` | {acl.pattern_type.lower()} |"
        )
    return "\n".join(rows)

"""Creates the Kafka topics explicitly (auto-creation is off on our brokers), and with `--acls`
each service principal's ACLs (`alliance_contracts.kafka_acls`), as a principal allowed to.

    python -m alliance_platform.provisioning [--acls [--principal intake=User:NAME ...]]

Reads KAFKA_BOOTSTRAP_SERVERS, ALLIANCE_TOPIC_PARTITIONS (default 12) and how to connect:
KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE (`alliance_platform.kafka.KafkaSecurity`).
Each topic is replicated on up to three brokers and needs two replicas in sync for a write
(`acks=all`), so a cluster of three loses nothing when one broker fails; on a single broker, one
replica and one in sync (the only setting that lets it write).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest

from alliance_contracts.kafka_acls import SERVICES, KafkaAcl, all_acls
from alliance_contracts.topics import ALL_TOPICS, TopicSpec
from alliance_platform.kafka import kafka_client_options
from alliance_platform.settings import CommonSettings


def replication_factor(brokers: int) -> int:
    return min(3, brokers)


def min_in_sync(replicas: int) -> int:
    return min(2, replicas)


async def provision(
    bootstrap_servers: str, partitions: int, topics: tuple[TopicSpec, ...] = ALL_TOPICS
) -> list[str]:
    """Creates missing topics; returns the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="provisioning", **kafka_client_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        brokers = len((await admin.describe_cluster())["brokers"])
        replicas = replication_factor(brokers)
        in_sync = {"min.insync.replicas": str(min_in_sync(replicas))}
        new = [
            NewTopic(
                t.name,
                num_partitions=partitions,
                replication_factor=replicas,
                topic_configs={**in_sync, **t.topic_config()},
            )
            for t in topics
            if t.name not in existing
        ]
        if new:
            await admin.create_topics(new)
        return [t.name for t in new]
    finally:
        await admin.close()


# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_RESOURCE = {"TOPIC": 2, "GROUP": 3}
_PATTERN = {"LITERAL": 3, "PREFIXED": 4}
_OPERATION = {"READ": 3, "WRITE": 4}
_ALLOW = 3


async def grant(bootstrap_servers: str, acls: Sequence[KafkaAcl]) -> int:
    """Creates the ALLOW rules (an existing one is left as it is); returns how many. aiokafka's
    admin client has no ACL call, so its CreateAcls request goes out on a plain client."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, client_id="provisioning", **kafka_client_options()
    )
    await client.bootstrap()
    try:
        for acl in acls:
            request = CreateAclsRequest(
                _RESOURCE[acl.resource_type],
                acl.resource_name,
                _PATTERN[acl.pattern_type],
                acl.principal,
                "*",
                _OPERATION[acl.operation],
                _ALLOW,
            )
            response = await client.send(client.get_random_node(), request)
            for code, message in response.creation_responses:
                if code:
                    raise for_code(code)(f"{acl}: {message}")
        return len(acls)
    finally:
        await client.close()


def principals(given: Sequence[str]) -> dict[str, str]:
    """`--principal SERVICE=User:NAME` arguments as a map; anything else is refused."""
    pairs = dict(item.partition("=")[::2] for item in given)
    if set(pairs) - set(SERVICES) or not all(p.startswith("User:") for p in pairs.values()):
        raise SystemExit(f"--principal SERVICE=User:NAME, SERVICE one of {SERVICES}: {given}")
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alliance_platform.provisioning")
    parser.add_argument("--acls", action="store_true", help="also create the services' ACLs")
    parser.add_argument(
        "--principal",
        action="append",
        default=[],
        help="SERVICE=User:NAME (default: User:alliance-SERVICE)",
    )
    args = parser.parse_args(argv)
    settings = CommonSettings()
    created = asyncio.run(provision(settings.kafka_bootstrap_servers, settings.topic_partitions))
    names = ", ".join(created) or "none (all exist)"
    print(f"topics created: {names}; partitions per new topic: {settings.topic_partitions}")
    if args.acls:
        acls = all_acls(principals(args.principal))
        granted = asyncio.run(grant(settings.kafka_bootstrap_servers, acls))
        print(f"ACLs in place: {granted} for {', '.join(SERVICES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Creates the Kafka topics explicitly (auto-creation is off on our brokers).

    python -m alliance_platform.provisioning

Reads KAFKA_BOOTSTRAP_SERVERS, ALLIANCE_TOPIC_PARTITIONS (default 12) and how to connect:
KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, KAFKA_SSL_CAFILE (`alliance_platform.kafka.KafkaSecurity`).
Each topic is replicated on up to three brokers and needs two replicas in sync for a write
(`acks=all`), so a cluster of three loses nothing when one broker fails; on a single broker, one
replica and one in sync (the only setting that lets it write).
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

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


def main() -> int:
    settings = CommonSettings()
    created = asyncio.run(provision(settings.kafka_bootstrap_servers, settings.topic_partitions))
    names = ", ".join(created) or "none (all exist)"
    print(f"topics created: {names}; partitions per new topic: {settings.topic_partitions}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

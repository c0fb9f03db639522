"""Kafka with SASL/SCRAM and ACLs (`python -m alliance_devstack start --brokers 3 --secure`): the
four services work end to end, each as its own principal (a response posted to intake is
scored, an alert raised, acknowledged through the gateway's commands topic and applied by
alerts); a service's principal cannot write a topic it does not own, nor read one it does not
consume, nor join another service's group; a client without credentials, or with a wrong
password, is not let in at all. One stack of its own for all of it (three brokers start slowly).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from alliance_contracts.access import Role, Scope
from alliance_contracts.kafka_acls import group_prefix
from alliance_contracts.topics import COMMANDS, INTAKE_COMMANDS, RESPONSES
from alliance_devstack.client import LaunchedStack, launched_stack
from alliance_devstack.scram import service_client_env
from alliance_platform.kafka import KafkaSecurity
from tests.conftest import eventually
from tests.e2e.own_stacks import issuer
from tests.helpers import graphql, response_body

ALERTS = """query($clinic: ID!, $status: AlertStatus!) { alerts(clinicId: $clinic,
  status: $status) { edges { node { alertId kind caseId } } } }"""
ACKNOWLEDGE = """mutation($alert: ID!) { acknowledgeAlert(input: {alertId: $alert,
  clientMutationId: "acl-ack-0001"}) { commandId duplicate } }"""


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaunchedStack]:
    directory = tmp_path_factory.mktemp("secured-brokers")
    with launched_stack(
        directory, brokers=3, services=True, secure=True, start_timeout=600, output=sys.stderr
    ) as launched:
        yield launched


def as_service(stack: LaunchedStack, service: str) -> dict[str, Any]:
    """aiokafka options of a client that logs in as the service's principal."""
    return KafkaSecurity.model_validate(
        service_client_env(stack.state["kafka"], service)
    ).client_options()


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_each_service_runs_as_its_own_principal(secured: LaunchedStack) -> None:
    assert secured.env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert "KAFKA_SASL_PASSWORD" not in secured.env  # `env` names the file, never the password
    secrets = Path(secured.state["kafka"]["secrets"])
    assert secrets.stat().st_mode & 0o777 == 0o700
    for name, process in secured.state["services"].items():
        env = environ_of(process["pid"])
        assert env["KAFKA_SASL_USERNAME"] == f"alliance-{name}"
        assert env["KAFKA_SASL_PASSWORD_FILE"] == str(secrets / f"alliance-{name}.password")
        assert "KAFKA_SASL_PASSWORD" not in env
        assert Path(env["KAFKA_SASL_PASSWORD_FILE"]).stat().st_mode & 0o777 == 0o600
    for node in secured.state["kafka"]["nodes"]:
        config = secured.directory / "kafka" / f"node-{node['node_id']}" / "server.properties"
        text = config.read_text()
        assert "allow.everyone.if.no.acl.found=false" in text
        assert "StandardAuthorizer" in text
        assert config.stat().st_mode & 0o777 == 0o600


async def test_a_response_is_scored_alerted_and_acknowledged_across_principals(
    secured: LaunchedStack, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("acl-clinic"), ids("acl-case")
    services = secured.state["services"]
    intake = f"http://127.0.0.1:{services['intake']['port']}"
    gateway = f"http://127.0.0.1:{services['gateway']['port']}"
    tokens = issuer(secured)
    ehr = tokens.clinic_system("acl-ehr", [Scope.RESPONSES_WRITE], [clinic], hours=1)
    supervisor = {"authorization": f"Bearer {tokens.person('sup-acl', Role.SUPERVISOR, [clinic])}"}
    async with httpx.AsyncClient(timeout=10, headers=supervisor) as client:
        for session, item in ((1, 9.5), (2, 8.0)):  # SRS 38, then 32: below the cut-off of 36
            accepted = await client.post(
                f"{intake}/v1/responses",
                json=response_body(clinic, case, session, item),
                headers={"authorization": f"Bearer {ehr}"},
            )
            assert accepted.status_code == 202, accepted.text

        async def alerts(status: str) -> Any:
            data = await graphql(client, gateway, ALERTS, clinic=clinic, status=status)
            return [e["node"] for e in data["alerts"]["edges"]] or None

        raised = await eventually(lambda: alerts("OPEN"), within=90)
        assert [(a["kind"], a["caseId"]) for a in raised] == [("EARLY_LOW_ALLIANCE", case)]
        ack = await graphql(client, gateway, ACKNOWLEDGE, alert=raised[0]["alertId"])
        assert ack["acknowledgeAlert"]["duplicate"] is False
        acknowledged = await eventually(lambda: alerts("ACKNOWLEDGED"), within=60)
    assert [a["alertId"] for a in acknowledged] == [raised[0]["alertId"]]


async def write(bootstrap: str, options: dict[str, Any], topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", **options
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, b'{"forged": true}', key=b"case-1")
    finally:
        await producer.stop()


async def read(bootstrap: str, options: dict[str, Any], topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, request_timeout_ms=5000, **options
    )
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=3000)
    finally:
        await consumer.stop()


@pytest.mark.parametrize("service", ["intake", "scoring", "alerts"])
async def test_no_service_but_the_gateway_may_write_the_commands_topic(
    secured: LaunchedStack, service: str
) -> None:
    bootstrap = secured.env["KAFKA_BOOTSTRAP_SERVERS"]
    for topic in (COMMANDS.name, INTAKE_COMMANDS.name):
        with pytest.raises(TopicAuthorizationFailedError):
            await write(bootstrap, as_service(secured, service), topic)


async def test_a_principal_reads_only_what_it_consumes_in_its_own_groups(
    secured: LaunchedStack,
) -> None:
    bootstrap, intake = secured.env["KAFKA_BOOTSTRAP_SERVERS"], as_service(secured, "intake")
    with pytest.raises(TopicAuthorizationFailedError):  # alerts' input, not intake's
        await read(bootstrap, intake, COMMANDS.name, f"{group_prefix('intake')}probe")
    with pytest.raises(GroupAuthorizationFailedError):  # its topic, another service's group
        await read(bootstrap, intake, INTAKE_COMMANDS.name, f"{group_prefix('alerts')}probe")
    with pytest.raises(TopicAuthorizationFailedError):  # the gateway watches notices only
        await read(bootstrap, as_service(secured, "gateway"), RESPONSES.name, "gateway-probe")


async def test_a_client_without_valid_credentials_is_not_let_in(secured: LaunchedStack) -> None:
    bootstrap = secured.env["KAFKA_BOOTSTRAP_SERVERS"]
    wrong = {**as_service(secured, "gateway"), "sasl_plain_password": "not-the-password"}
    for options in ({}, wrong):  # PLAINTEXT on the SASL listener; a wrong password
        with pytest.raises(KafkaConnectionError):
            await write(bootstrap, options, COMMANDS.name)

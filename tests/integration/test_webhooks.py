"""Webhook delivery to a local receiver on loopback: signed as Standard Webhooks has it (and
verified with the `standardwebhooks` library, as a clinic's receiver would), retried with
backoff through injected failures (500, timeout), dead-lettered after the last attempt, never
sent twice; secrets rotated with an overlap and sealed at rest."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from alliance_alerts.adapters.secret_box import Sealed
from alliance_alerts.entrypoints.app import create_app
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.events import AlertNotice
from alliance_contracts.topics import DEAD_LETTER, NOTICES, SCORED
from tests.conftest import eventually
from tests.helpers import AUTH_ENV, bearer, on_a_socket, produce, read_topic, serving
from tests.stack import Endpoints
from tests.unit.clinical import srs_series
from tests.unit.test_alert_rules import outputs

# Test-only encryption key for sealed secrets (generated per run, never a real one).
WEBHOOK_KEYS = "test-k1:" + base64.b64encode(os.urandom(32)).decode()


def verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


class Receiver:
    """A clinic's webhook endpoint whose answers are scripted: 500, "timeout", then 200s."""

    def __init__(self, script: list[int | str]) -> None:
        self.script = script
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.app = FastAPI()
        self.app.post("/hook")(self.hook)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((body, dict(request.headers)))
        step = self.script.pop(0) if self.script else 200
        if step == "timeout":
            await asyncio.sleep(2)
            step = 200
        return Response(status_code=int(step))

    def accepted(self) -> list[dict[str, Any]]:
        """Bodies of the deliveries answered 2xx (timeouts do not count)."""
        return [json.loads(b) for b, _ in self.received]


def settings(stack: Endpoints, max_attempts: int) -> AlertsSettings:
    return AlertsSettings.model_validate(
        {
            **stack.service_env("alerts"),
            **AUTH_ENV,
            "ALLIANCE_ALERTS_TICK_SECONDS": "0.2",
            "ALLIANCE_WEBHOOK_MAX_ATTEMPTS": str(max_attempts),
            "ALLIANCE_WEBHOOK_BACKOFF_BASE_S": "0.2",
            "ALLIANCE_WEBHOOK_TIMEOUT_S": "0.5",
            "ALLIANCE_WEBHOOK_KEYS": WEBHOOK_KEYS,
            "ALLIANCE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
        }
    )


async def deliveries(pg: asyncpg.Pool, clinic: str) -> list[asyncpg.Record]:
    return await pg.fetch(
        "SELECT d.*, array_agg(a.outcome ORDER BY a.at) AS outcomes "
        "FROM alerts_delivery.delivery d JOIN alerts_delivery.attempt a ON a.delivery_id = d.id "
        "WHERE d.clinic_id = $1 GROUP BY d.id ORDER BY d.id",
        clinic,
    )


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """The receiver on a socket; its webhook URL."""
    async with on_a_socket(app) as base:
        yield f"{base}/hook"


async def test_signed_delivery_retried_through_failures_and_never_twice(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    receiver = Receiver([500, "timeout", 200])
    async with serve(receiver.app) as url, serving(create_app(settings(stack, 6))) as alerts:
        hook = {"url": url}
        anonymous = await alerts.put(f"/v1/clinics/{clinic}/webhook", json=hook)
        therapist = await alerts.put(
            f"/v1/clinics/{clinic}/webhook", json=hook, headers=bearer("clinician", [clinic])
        )
        assert (anonymous.status_code, therapist.status_code) == (401, 403)
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        r = await alerts.put(f"/v1/clinics/{clinic}/webhook", json=hook)
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert secret.startswith("whsec_")
        again = await alerts.put(f"/v1/clinics/{clinic}/webhook", json=hook)
        assert again.json()["secret"] is None  # shown once
        stored = await pg.fetchval(
            "SELECT secret_sealed FROM alerts_delivery.endpoint WHERE clinic_id = $1", clinic
        )
        assert secret.encode() not in stored
        assert secret[6:].encode() not in stored
        # A live rupture: scored now.
        now = datetime.now(UTC)
        published = [
            e.model_copy(update={"occurred_at": now, "recorded_at": now})
            for e in outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
        ]
        await produce(stack.kafka_bootstrap_servers, SCORED.name, published)

        async def delivered() -> list[asyncpg.Record] | None:
            rows = await deliveries(pg, clinic)
            return rows if rows and rows[0]["status"] == "delivered" else None

        [row] = await eventually(delivered, within=60)
        # The same notices again (a replay republishes them) and an old notice: nothing sent.
        notices = [
            AlertNotice.model_validate_json(r.value)
            for r in await read_topic(stack.kafka_bootstrap_servers, NOTICES.name)
            if r.key == case.encode()
        ]
        old = notices[0].model_copy(
            update={"event_id": uuid.uuid4(), "recorded_at": now - timedelta(days=3)}
        )
        await produce(stack.kafka_bootstrap_servers, NOTICES.name, [*notices, old])
        await asyncio.sleep(3)
        log = (await alerts.get(f"/v1/clinics/{clinic}/deliveries")).json()
    assert list(row["outcomes"]) == ["500", "timeout", "200"]
    assert row["attempts"] == 3
    assert len(log) == 1 and len(log[0]["attempts_log"]) == 3  # noqa: PT018
    bodies = receiver.accepted()
    assert len(bodies) == 3  # the same notice, three attempts; then never again
    assert {b["event_id"] for b in bodies} == {str(notices[0].event_id)}
    body, headers = receiver.received[-1]
    assert headers["webhook-id"] == str(notices[0].event_id)
    assert verifies(secret, body, headers)
    assert not verifies("whsec_" + base64.b64encode(os.urandom(32)).decode(), body, headers)
    tampered = {**headers, "webhook-id": str(uuid.uuid4())}  # the id is signed too
    assert not verifies(secret, body, tampered)


async def test_delivery_is_dead_lettered_after_the_last_attempt(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    receiver = Receiver([500, 500, 500, 500])
    async with serve(receiver.app) as url, serving(create_app(settings(stack, 3))) as alerts:
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        await alerts.put(f"/v1/clinics/{clinic}/webhook", json={"url": url})
        now = datetime.now(UTC)
        published = [
            e.model_copy(update={"occurred_at": now, "recorded_at": now})
            for e in outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
        ]
        await produce(stack.kafka_bootstrap_servers, SCORED.name, published)

        async def dead() -> list[asyncpg.Record] | None:
            rows = await deliveries(pg, clinic)
            return rows if rows and rows[0]["status"] == "dead" else None

        [row] = await eventually(dead, within=60)

        async def dead_lettered() -> list[Any]:
            return [
                r
                for r in await read_topic(stack.kafka_bootstrap_servers, DEAD_LETTER.name)
                if r.key == clinic.encode()
            ]

        [record] = await eventually(dead_lettered, within=30)
    assert list(row["outcomes"]) == ["500", "500", "500"]
    headers = dict(record.headers)
    assert headers["dlq_source"] == b"webhook"
    assert b"failed 3 times; last: 500" in headers["dlq_reason"]


async def test_a_rotated_secret_and_the_previous_one_both_verify_during_the_changeover(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    clinic, case = ids("clinic"), ids("case")
    receiver = Receiver([200, 200])
    async with serve(receiver.app) as url, serving(create_app(settings(stack, 3))) as alerts:
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        old = (await alerts.put(f"/v1/clinics/{clinic}/webhook", json={"url": url})).json()
        rotated = await alerts.post(f"/v1/clinics/{clinic}/webhook/secret")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        now = datetime.now(UTC)
        published = [
            e.model_copy(update={"occurred_at": now, "recorded_at": now})
            for e in outputs(srs_series(case, [38] * 6 + [30], clinic=clinic))
        ]
        await produce(stack.kafka_bootstrap_servers, SCORED.name, published)
        await eventually(lambda: _delivered(pg, clinic), within=60)
    body, headers = receiver.received[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verifies(new, body, headers)
    assert verifies(old["secret"], body, headers)


async def _delivered(pg: asyncpg.Pool, clinic: str) -> bool:
    rows = await deliveries(pg, clinic)
    return bool(rows) and rows[0]["status"] == "delivered"


async def test_secrets_are_resealed_after_an_encryption_key_rotation(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    from alliance_alerts.rekey import rekey

    clinic = ids("clinic")
    receiver = Receiver([200])
    async with serve(receiver.app) as url, serving(create_app(settings(stack, 3))) as alerts:
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        secret = (await alerts.put(f"/v1/clinics/{clinic}/webhook", json={"url": url})).json()
    rotated = "test-k2:" + base64.b64encode(os.urandom(32)).decode() + "," + WEBHOOK_KEYS
    new_settings = settings(stack, 3).model_copy(update={"webhook_keys": rotated})
    resealed, _ = await rekey(new_settings)  # other tests' endpoints may use other keys
    assert resealed >= 1
    kid = await pg.fetchval(
        "SELECT secret_key_id FROM alerts_delivery.endpoint WHERE clinic_id = $1", clinic
    )
    assert kid == "test-k2"
    box = new_settings.secret_box()
    assert box is not None
    sealed = await pg.fetchval(
        "SELECT secret_sealed FROM alerts_delivery.endpoint WHERE clinic_id = $1", clinic
    )
    assert box.open(Sealed("test-k2", sealed), clinic) == secret["secret"]


async def test_a_second_rotation_waits_for_the_first_changeover(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    receiver = Receiver([])
    async with serve(receiver.app) as url, serving(create_app(settings(stack, 3))) as alerts:
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        await alerts.put(f"/v1/clinics/{clinic}/webhook", json={"url": url})
        first = await alerts.post(f"/v1/clinics/{clinic}/webhook/secret")
        again = await alerts.post(f"/v1/clinics/{clinic}/webhook/secret")
    assert first.status_code == 200
    assert again.status_code == 409  # the original secret stays valid as promised


async def test_plain_text_secrets_of_an_older_release_are_sealed_and_dropped(
    stack: Endpoints, pg: asyncpg.Pool, ids: Callable[[str], str]
) -> None:
    from alliance_alerts.adapters.delivery_store import migrate_plaintext_secrets

    clinic = ids("clinic")
    old_secret = "an-old-shared-secret-0001"
    async with serving(create_app(settings(stack, 3))):  # the schema exists
        pass
    await pg.execute(
        "CREATE TABLE alerts_delivery.webhook (clinic_id text PRIMARY KEY, url text, "
        "secret text, active boolean)"
    )
    await pg.execute(
        "INSERT INTO alerts_delivery.webhook VALUES ($1, 'https://93.184.216.34/h', $2, false)",
        clinic,
        old_secret,
    )
    alerts_pool = await asyncpg.create_pool(stack.service_env("alerts")["DATABASE_URL"])
    assert alerts_pool is not None
    try:
        box = settings(stack, 3).secret_box()
        assert box is not None
        await pg.execute("ALTER TABLE alerts_delivery.webhook OWNER TO alliance_alerts")
        assert await migrate_plaintext_secrets(alerts_pool, box) >= 1
    finally:
        await alerts_pool.close()
    assert await pg.fetchval("SELECT to_regclass('alerts_delivery.webhook')") is None
    sealed = await pg.fetchrow(
        "SELECT secret_key_id, secret_sealed FROM alerts_delivery.endpoint WHERE clinic_id = $1",
        clinic,
    )
    assert sealed is not None
    opened = box.open(Sealed(sealed["secret_key_id"], sealed["secret_sealed"]), clinic)
    assert base64.b64decode(opened.removeprefix("whsec_")) == old_secret.encode()

"""Webhook registrations that would make the alerts service call inside the network (SSRF)
are refused with the rule; only a public https address is accepted. Nothing here is sent:
the accepted registration is inactive and its clinic has no notices."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from alliance_alerts.entrypoints.app import create_app
from alliance_alerts.settings import AlertsSettings
from tests.helpers import AUTH_ENV, bearer, serving
from tests.integration.test_webhooks import WEBHOOK_KEYS
from tests.stack import Endpoints

INTERNAL = [
    "https://127.0.0.1/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://240.0.0.1/hook",
    "https://[fe80::1]/hook",
    "https://[fc00::1]/hook",
    "https://[fec0::1]/hook",
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 to 169.254.169.254
    "https://[2002:a9fe:a9fe::1]/hook",  # 6to4 to 169.254.169.254
    "https://[::127.0.0.1]/hook",
    "https://[::ffff:0:7f00:1]/hook",
    "https://no-such-host.invalid/hook",
]


@pytest.fixture
def alerts_settings(stack: Endpoints) -> AlertsSettings:
    # No allow-list: production's default.
    return AlertsSettings.model_validate(
        {**stack.service_env("alerts"), **AUTH_ENV, "ALLIANCE_WEBHOOK_KEYS": WEBHOOK_KEYS}
    )


async def test_internal_addresses_are_refused(
    alerts_settings: AlertsSettings, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    async with serving(create_app(alerts_settings)) as alerts:
        alerts.headers.update(bearer("clinic_admin", [clinic]))
        answers = {
            url: await alerts.put(f"/v1/clinics/{clinic}/webhook", json={"url": url})
            for url in INTERNAL
        }
        plain = await alerts.put(
            f"/v1/clinics/{clinic}/webhook", json={"url": "http://93.184.216.34/hook"}
        )
        public = await alerts.put(
            f"/v1/clinics/{clinic}/webhook",
            json={"url": "https://93.184.216.34/hook", "active": False},
        )
    for url, r in answers.items():
        assert r.status_code == 422, (url, r.text)
        assert "127.0.0.1" not in r.text  # the internal address is not echoed
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", "url"], url
        assert "non-public" in error["msg"] or "does not resolve" in error["msg"], (url, error)
    assert plain.status_code == 422
    assert plain.json()["detail"][0]["msg"] == "must be https"
    assert public.status_code == 200, public.text

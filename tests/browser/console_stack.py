"""The console's browser tests' stack: the console's build, a gateway serving it that trusts the
dev issuer, the demo network loaded through intake and scored, and the API's view of it (the
tests compare the pages with what the API answers). Fixtures in `conftest.py`."""

from __future__ import annotations

import asyncio
import gzip
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from alliance_contracts.access import Scope
from alliance_demo.driver import IntakeRejected, send_all
from alliance_demo.network import CLINIC_IDS, Network, build_network
from alliance_devstack.processes import ServiceProcess
from tests.browser.browsing import REPO
from tests.helpers import ISSUER, bearer
from tests.signin import DevIssuerEndpoint
from tests.stack import Endpoints

CONSOLE_SOURCE = REPO / "services" / "gateway" / "console"
CONSOLE_DIST = CONSOLE_SOURCE / "dist"
DEMO_SEED = 7  # the launcher's (`./dev up`): the same cases show the same patterns
# Every alert kind as the console labels it (pages/load.tsx KIND_LABEL).
KIND_LABEL = {
    "RUPTURE": "Rupture",
    "EARLY_LOW_ALLIANCE": "Early low alliance",
    "SPLIT_ALLIANCE": "Split alliance",
    "DETERIORATION": "Deterioration",
    "OFF_TRACK": "Not on track",
    "CRITICAL_ITEM": "Critical item",
    "TERMINATION_READINESS": "Termination readiness",
}


def built_console() -> Path:
    """The console's build (`.ci/run` makes it before the tests); built here when absent. A
    build that fails fails the test: the console is what these tests are about."""
    if (CONSOLE_DIST / "index.html").exists():
        return CONSOLE_DIST
    for step in (["npm", "ci", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        try:
            done = subprocess.run(
                step, cwd=CONSOLE_SOURCE, capture_output=True, text=True, timeout=600
            )
        except FileNotFoundError:
            pytest.fail("the console cannot be built: npm (Node.js 20) is missing")
        if done.returncode != 0:
            pytest.fail(f"`{' '.join(step)}` failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return CONSOLE_DIST


def entry_script_sizes(dist: Path) -> tuple[str, int, int]:
    """The console entry's script (the one index.html loads): name, bytes, gzip bytes."""
    page = (dist / "index.html").read_text()
    entry = re.search(r'<script[^>]+src="/console/(assets/[^"]+\.js)"', page)
    assert entry, "index.html names no script"
    body = (dist / entry[1]).read_bytes()
    return entry[1], len(body), len(gzip.compress(body, compresslevel=9))


def console_gateway(
    stack: Endpoints, issuer: DevIssuerEndpoint, dist: Path, log: Path
) -> Iterator[str]:
    """A gateway as its own process on the issuer's one redirect URI's port, serving the console
    build, trusting the dev issuer's tokens, and sending the console to it for sign-in."""
    env = {
        **os.environ,
        **stack.service_env("gateway"),
        **issuer.service_env(),
        "ALLIANCE_CONSOLE_DIR": str(dist),
        "ALLIANCE_CONSOLE_OIDC_ISSUER": issuer.url,
        "ALLIANCE_CONSOLE_OIDC_CLIENT_ID": issuer.client_id,
    }
    with ServiceProcess("gateway", env, log, port=issuer.callback_port).running() as url:
        yield url


CASE = """query ($clinicId: ID!, $caseId: ID!) { case(clinicId: $clinicId, caseId: $caseId) {
  caseId latestSession episode { status ending }
  outcomes { instrument respondentRole outcomeClass latestTotal }
  splits { active gap }
  dyads { dyadId therapistId respondentRole respondentId
    ruptures { ruptureId status openedSession instrument }
    timeline { instrument sessionNumber total } } } }"""
ALERTS = """query ($clinicId: ID!, $status: AlertStatus!) {
  alerts(clinicId: $clinicId, status: $status, first: 100) {
    edges { node { alertId kind caseId status therapistId } } } }"""
CASELOAD = """query ($clinicId: ID!, $kind: AlertKind) { clinic(clinicId: $clinicId) {
  cases(first: 100, openAlertKind: $kind) { edges { node { caseId } } } } }"""
ACTIVE_ALERTS = """query ($clinicId: ID!) { clinic(clinicId: $clinicId) {
  cases(first: 100) { edges { node { caseId activeAlerts { alertId kind caseId } } } } } }"""


@dataclass
class Api:
    """The API as a given person sees it, through the services' own gateway (tests' tokens)."""

    url: str
    headers: Mapping[str, str]

    @classmethod
    def of(cls, url: str, role: str, clinics: list[str], subject: str) -> Api:
        return cls(url, bearer(role, clinics, subject))

    async def answer(self, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=15, headers=dict(self.headers)) as client:
            response = await client.post(
                f"{self.url}/graphql", json={"query": query, "variables": variables}
            )
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.answer(query, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def case(self, clinic_id: str, case_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await self.data(CASE, clinicId=clinic_id, caseId=case_id))[
            "case"
        ]
        return found

    async def alerts(self, clinic_id: str, status: str) -> list[dict[str, Any]]:
        data = await self.data(ALERTS, clinicId=clinic_id, status=status)
        return [edge["node"] for edge in data["alerts"]["edges"]]

    async def active_alerts(self, clinic_id: str) -> dict[str, list[dict[str, Any]]]:
        """Each case's active alerts (`Case.activeAlerts`: the caseload's badges), in order."""
        data = await self.data(ACTIVE_ALERTS, clinicId=clinic_id)
        edges = data["clinic"]["cases"]["edges"]
        return {edge["node"]["caseId"]: edge["node"]["activeAlerts"] for edge in edges}

    async def caseload(self, clinic_id: str, open_alert_kind: str | None = None) -> list[str]:
        """The cases (ids, in order) the person may see, optionally only those with an active
        alert of a kind."""
        data = await self.data(CASELOAD, clinicId=clinic_id, kind=open_alert_kind)
        return [edge["node"]["caseId"] for edge in data["clinic"]["cases"]["edges"]]


@dataclass
class Demo:
    """The demo network as loaded, and every case as the API serves it once scored."""

    network: Network
    cases: dict[str, dict[str, Any]]  # case id -> the API's case

    def clinic_of(self, case_id: str) -> str:
        return next(c.clinic_id for c in self.network.cases if c.case_id == case_id)

    def first(self, what: str, shows: Any) -> str:
        """The first case whose API data shows the pattern (`shows(case)` is true)."""
        found = [case_id for case_id, case in sorted(self.cases.items()) if shows(case)]
        assert found, f"no demo case shows {what}"
        return found[0]


async def load_demo(intake_url: str, supervisor: Api, within: float = 150) -> Demo:
    """Sends the demo network to intake as `./dev up` does (today's date: a re-run on the same
    day is all duplicates) and waits until scoring has folded every response and ending and the
    alerts service has raised the alerts."""
    network = build_network(DEMO_SEED, datetime.now(UTC))
    token = ISSUER.clinic_system("demo-ehr", (Scope.RESPONSES_WRITE,), list(CLINIC_IDS))
    try:
        await send_all(network.submissions, intake_url, token=token)
    except IntakeRejected as exc:
        if exc.status_code == 409:
            pytest.fail(
                "the stack holds the demo network sent on another day (same keys, other "
                "dates): run the tests on an emptied stack (`python -m alliance_devstack reset`)"
            )
        raise
    deadline = asyncio.get_running_loop().time() + within
    while True:
        cases = {c.case_id: await supervisor.case(c.clinic_id, c.case_id) for c in network.cases}
        scored = all(
            (found := cases[c.case_id]) is not None
            and found["latestSession"] == c.sessions
            and (c.ending is None or found["episode"]["ending"] is not None)
            for c in network.cases
        )
        if scored and await alerts_settled(supervisor):
            return Demo(network, {k: v for k, v in cases.items() if v is not None})
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the demo network was not scored within {within} s")
        await asyncio.sleep(1)


async def alerts_settled(supervisor: Api) -> bool:
    """Some alerts, and no new one for a second: the alerts service has caught up."""

    async def count() -> int:
        total = 0
        for clinic_id in CLINIC_IDS:
            for status in ("OPEN", "ACKNOWLEDGED", "RESOLVED"):
                total += len(await supervisor.alerts(clinic_id, status))
        return total

    before = await count()
    await asyncio.sleep(1)
    return before > 0 and await count() == before


def supervisor_api(gateway_url: str) -> Api:
    return Api.of(gateway_url, "supervisor", list(CLINIC_IDS), "demo-supervisor")


def js_number(value: float) -> str:
    """A number as the page's JavaScript prints it (36.0 -> "36")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))

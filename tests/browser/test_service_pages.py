"""The services' HTML pages in Chromium: every byte from the service itself, under its
Content-Security-Policy, accessible (intake's Swagger UI at /docs: alliance_platform.pages)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from alliance_devstack.processes import ServiceProcess
from tests.browser.browsing import BrowserPage
from tests.helpers import AUTH_ENV
from tests.stack import Endpoints


@pytest.fixture(scope="module")
def intake(stack: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Intake as its own process, as the launcher runs it."""
    log = tmp_path_factory.mktemp("browser-intake") / "intake.log"
    env = {**os.environ, **AUTH_ENV, **stack.service_env("intake")}
    with ServiceProcess("intake", env, log).running() as url:
        yield url


async def test_intake_docs_render_from_the_service_alone(
    browser_page: BrowserPage, intake: str
) -> None:
    page = browser_page.page
    answer = await page.goto(f"{intake}/docs")
    assert answer is not None
    assert answer.status == 200
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy  # no inline script, no other origin
    assert "frame-ancestors 'none'" in policy

    # Swagger UI has read the OpenAPI document and shows the operations.
    await page.locator(".opblock-summary-path", has_text="/v1/responses").first.wait_for()
    assert await page.locator(".opblock").count() >= 5
    await page.locator(".opblock-summary", has_text="/v1/responses").first.click()
    await page.locator(".opblock-body").first.wait_for()

    assert browser_page.left_loopback() == []
    assert await browser_page.csp_violations() == []
    assert await browser_page.serious_accessibility_violations() == []
    await browser_page.screenshot("intake-docs")

"""The browser and a recorded page per test (`browsing.py`). Chromium is required: without it
the tests fail, naming the package to install."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Route, async_playwright

from tests.browser.browsing import CHROMIUM, CSP_PROBE, MISSING_CHROMIUM, BrowserPage, on_loopback


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(MISSING_CHROMIUM)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser_page(
    browser: Browser, request: pytest.FixtureRequest
) -> AsyncIterator[BrowserPage]:
    """A fresh context (no cookies, no storage) whose requests are recorded; a request that
    would leave this machine is aborted. A screenshot is saved when the test ends."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    await context.add_init_script(CSP_PROBE)
    page = await context.new_page()
    recorded = BrowserPage(page)
    page.on("request", lambda r: recorded.requests.append(r.url))
    page.on(
        "console", lambda m: recorded.console_errors.append(m.text) if m.type == "error" else None
    )

    async def only_loopback(route: Route) -> None:
        if on_loopback(route.request.url):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    await context.route("**/*", only_loopback)
    try:
        yield recorded
    finally:
        await recorded.screenshot(request.node.name)
        await context.close()

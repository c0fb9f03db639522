"""The browser and a recorded page per test (`browsing.py`). Chromium is required: without it
the tests fail, naming the package to install. For the console's tests, the console served by
a gateway that trusts the dev issuer, and the demo network loaded (`console_stack.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Route, async_playwright

from alliance_devstack.processes import ServiceProcess
from tests.browser.browsing import CHROMIUM, CSP_PROBE, MISSING_CHROMIUM, BrowserPage, on_loopback
from tests.browser.console_stack import (
    Demo,
    built_console,
    console_gateway,
    load_demo,
    supervisor_api,
)
from tests.signin import DevIssuerEndpoint
from tests.stack import Endpoints


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


@pytest.fixture(scope="module")
def console_url(
    stack: Endpoints,
    dev_issuer: DevIssuerEndpoint,
    services: dict[str, ServiceProcess],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The console as a gateway serves it (its own process, trusting the dev issuer, on the
    issuer's redirect URI), over the four services the end-to-end tests run."""
    log = tmp_path_factory.mktemp("console-gateway") / "gateway.log"
    yield from console_gateway(stack, dev_issuer, built_console(), log)


@pytest.fixture(scope="module")
async def demo(services: dict[str, ServiceProcess]) -> Demo:
    """The demo network, sent through intake and scored (once per module)."""
    return await load_demo(services["intake"].url, supervisor_api(services["gateway"].url))

"""The dev issuer's sign-in page in Chromium: accessible, under its policy, and a click signs
in: the browser ends at the registered redirect URI with a code that trades for a token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.browser.browsing import BrowserPage, sign_in
from tests.helpers import on_a_socket
from tests.signin import CALLBACK_PATH, DevIssuerEndpoint, Pkce, authorize_url


async def landing(_: Request) -> HTMLResponse:
    return HTMLResponse("<!doctype html><html lang='en'><title>Console</title><main>back</main>")


# Stands in for the console at the issuer's registered redirect URI.
CONSOLE = Starlette(routes=[Route(CALLBACK_PATH, landing)])


async def test_sign_in_page_is_accessible_and_a_click_signs_in(
    browser_page: BrowserPage, dev_issuer: DevIssuerEndpoint
) -> None:
    page, pkce = browser_page.page, Pkce.new()
    async with on_a_socket(CONSOLE, dev_issuer.callback_port):
        answer = await page.goto(authorize_url(dev_issuer, pkce, state="st-browser"))
        assert answer is not None
        assert answer.status == 200
        assert "script-src 'self';" in answer.headers["content-security-policy"]
        await page.get_by_role("heading", name="Dev sign-in").wait_for()
        assert await page.get_by_role("button").count() == 10  # the demo network's people
        assert await browser_page.serious_accessibility_violations() == []
        assert await browser_page.csp_violations() == []
        await browser_page.screenshot("dev-sign-in")

        await sign_in(page, dev_issuer.url, "th-north-01")

        assert page.url.startswith(f"{dev_issuer.redirect_uri}?")
        query = parse_qs(urlsplit(page.url).query)
        assert query["state"] == ["st-browser"]
        assert await page.get_by_text("back").is_visible()
    async with httpx.AsyncClient(timeout=10) as client:
        tokens = await client.post(
            f"{dev_issuer.url}/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": dev_issuer.redirect_uri,
                "client_id": dev_issuer.client_id,
                "code_verifier": pkce.verifier,
            },
        )
    assert tokens.status_code == 200, tokens.text
    assert browser_page.left_loopback() == []
    assert await browser_page.csp_violations() == []

"""The dev issuer's sign-in page in Chromium: accessible, under its policy, and a click signs
in: the browser ends at the registered redirect URI with a code that trades for a token."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.browser.browsing import BrowserPage, open_signed_in, sign_in
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
        assert await page.get_by_role("button").count() == 12  # the demo network's people
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


async def test_an_app_signs_in_through_the_issuers_page(
    browser_page: BrowserPage, dev_issuer: DevIssuerEndpoint
) -> None:
    """What the console's tests do (`open_signed_in`), with a stand-in that sends the browser to
    the issuer when it has no code, as an OIDC client does."""
    pkce = Pkce.new()

    async def app(request: Request) -> Response:
        if "code" not in request.query_params:
            return RedirectResponse(authorize_url(dev_issuer, pkce, state="st-app"))
        return HTMLResponse("<!doctype html><html lang='en'><title>App</title><main>in</main>")

    async with on_a_socket(Starlette(routes=[Route(CALLBACK_PATH, app)]), dev_issuer.callback_port):
        await open_signed_in(
            browser_page.page, dev_issuer.redirect_uri, dev_issuer.url, "sup-south"
        )
        assert parse_qs(urlsplit(browser_page.page.url).query)["state"] == ["st-app"]
        assert await browser_page.page.get_by_text("in", exact=True).is_visible()
    assert browser_page.left_loopback() == []

"""The pages' one policy and the self-hosted API documentation (alliance_platform.pages); in a
real browser: tests/browser/test_service_pages.py."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from alliance_platform.pages import DOCS_PATHS, content_security_policy, install_api_docs


def test_the_policy_allows_only_the_pages_own_origin() -> None:
    policy = dict(d.split(" ", 1) for d in content_security_policy().split("; "))
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["img-src"] == "'self' data:"
    assert (policy["frame-ancestors"], policy["base-uri"]) == ("'none'", "'none'")
    assert "unsafe" not in content_security_policy(connect_src=["http://127.0.0.1:8005"])
    widened = content_security_policy(
        connect_src=["http://127.0.0.1:8005"], form_action=["http://127.0.0.1:8004"]
    )
    assert "connect-src 'self' http://127.0.0.1:8005;" in widened
    assert widened.endswith("form-action 'self' http://127.0.0.1:8004")


async def test_the_docs_page_loads_only_what_the_service_serves() -> None:
    app = FastAPI(title="Alliance test", docs_url=None, redoc_url=None)
    install_api_docs(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await check_docs(client)


async def check_docs(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.headers["content-security-policy"] == content_security_policy()
    assert page.headers["x-content-type-options"] == "nosniff"
    # No inline script: every script has a src, and every src and href is this service's.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert linked
    for url in linked:
        assert url == "data:," or url in DOCS_PATHS, url
        if url != "data:,":
            assert (await client.get(url)).status_code == 200, url
    assert (await client.get("/redoc")).status_code == 404

"""Pages in a real browser: Debian's Chromium driven by Playwright, every request recorded, CSP
violations and axe-core's findings collected, screenshots kept. For the browser tests of the
services' pages and of the console (the fixtures are in `conftest.py`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

REPO = Path(__file__).resolve().parents[2]
# Debian's package, never a browser Playwright downloads (`.ci/run` installs it).
CHROMIUM = Path(os.environ.get("ALLIANCE_CHROMIUM", "/usr/bin/chromium"))
# The run's screenshots (git-ignored), one per test; docs/operations.md says where.
SCREENSHOTS = Path(os.environ.get("ALLIANCE_SCREENSHOT_DIR", REPO / "tests/browser/screenshots"))
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# axe-core's impacts that fail a test (WCAG 2.1 AA: docs/operations.md#browser-tests).
FAILING_IMPACTS = frozenset({"serious", "critical"})
# Recorded in every document before its own scripts run.
CSP_PROBE = """document.addEventListener("securitypolicyviolation", (e) => {
  (window.__cspViolations = window.__cspViolations || []).push(
    `${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}`);
});"""
MISSING_CHROMIUM = (
    f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's package "
    "(`apt-get install -y chromium`; `.ci/run` and the launcher install it when run as root)."
)


def on_loopback(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOOPBACK


@dataclass
class BrowserPage:
    """A page in its own browser context, with what it requested and logged."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def left_loopback(self) -> list[str]:
        """Requests to anywhere but this machine (aborted, and recorded here)."""
        return [url for url in self.requests if not on_loopback(url)]

    async def csp_violations(self) -> list[str]:
        """What the page's Content-Security-Policy blocked, as the document reported it and as
        Chromium logged it."""
        reported: list[str] = await self.page.evaluate("window.__cspViolations || []")
        logged = [m for m in self.console_errors if "Content Security Policy" in m]
        return [*reported, *logged]

    async def serious_accessibility_violations(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        results = await Axe().run(self.page)
        violations: list[dict[str, Any]] = results.response["violations"]
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in violations
            if v["impact"] in FAILING_IMPACTS
        ]

    async def screenshot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"  # Playwright makes the directory
        await self.page.screenshot(path=str(path), full_page=True)
        return path


async def sign_in(page: Page, issuer_url: str, person: str) -> None:
    """On the dev issuer's sign-in page, where an app sent the browser: sign in as `person`
    (a subject the page lists, e.g. `th-north-01`), and wait until the browser is back at the
    app's redirect URI. The app then trades the code for its token."""
    await page.wait_for_url(f"{issuer_url}/authorize?**")
    await page.get_by_role("button", name=f"Sign in as {person}", exact=True).click()
    await page.wait_for_url(lambda url: not url.startswith(issuer_url))


async def open_signed_in(page: Page, app_url: str, issuer_url: str, person: str) -> None:
    """Opens an app that signs people in through the dev issuer (the console), signs in as
    `person` on the issuer's page and waits until the app has loaded again."""
    await page.goto(app_url)
    await sign_in(page, issuer_url, person)
    await page.wait_for_load_state()

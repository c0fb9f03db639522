"""The clinician console and GraphiQL as static pages (decision 0029, docs/console.md).

`npm run build` in services/gateway/console writes both into one directory: `index.html` (the
console, a single-page app under /console/), `graphiql.html` (served on GET /graphql to
browsers) and `assets/` (content-hashed names: cached for a year). The pages and the console's
configuration are never cached, and every answer carries the pages' one Content-Security-Policy
(`alliance_platform/pages.py`), allowing only this origin (and, for the token exchange, the
configured issuer's; GraphiQL's fonts as `data:` URLs). Without a build, the
pages answer 503 and say how to build them: the gateway never needs Node to run.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response

from alliance_gateway.settings import GatewaySettings
from alliance_platform.pages import content_security_policy, page_headers

HASHED_ASSET = "public, max-age=31536000, immutable"
NEVER_STORED = "no-store"
BUILD_HINT = (
    "cd services/gateway/console && npm ci && npm run build "
    "(or <code>./dev console</code>; <code>./dev up</code> does it when Node is installed)"
)


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


class ConsolePages:
    """The built files and the headers they are answered with."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.root = settings.console_dir.resolve()
        issuer = settings.console_oidc_issuer.strip()
        self.config: dict[str, object] = {
            "graphql": "/graphql",
            "oidc": {
                "issuer": issuer,
                "clientId": settings.console_oidc_client_id,
                "scope": settings.console_oidc_scope,
            }
            if issuer and settings.console_oidc_client_id
            else None,
        }
        issuer_origin = _origin(issuer) if self.config["oidc"] else None
        self.headers = page_headers(
            content_security_policy(
                connect_src=[issuer_origin] if issuer_origin else [], font_src=["data:"]
            )
        )

    def _file(self, relative: str) -> Path | None:
        path = (self.root / relative).resolve()
        if path.is_relative_to(self.root) and path.is_file():
            return path
        return None

    def _not_built(self, what: str) -> HTMLResponse:
        body = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{what} not built</title>"
            f"<h1>The {what} is not built</h1>"
            f"<p>This gateway serves it from <code>{self.root}</code>, which holds no build. "
            f"Build it with Node 20: <code>{BUILD_HINT}</code>, then reload.</p></html>"
        )
        headers = {**self.headers, "Cache-Control": NEVER_STORED, "Retry-After": "60"}
        return HTMLResponse(body, status_code=503, headers=headers)

    def page(self, name: str, what: str) -> Response:
        path = self._file(name)
        if path is None:
            return self._not_built(what)
        headers = {**self.headers, "Cache-Control": NEVER_STORED}
        return FileResponse(path, media_type="text/html", headers=headers)

    def asset(self, relative: str) -> Response:
        path = self._file(f"assets/{relative}")
        if path is None:
            return Response(status_code=404, headers=self.headers)
        return FileResponse(path, headers={**self.headers, "Cache-Control": HASHED_ASSET})

    def settings(self) -> JSONResponse:
        headers = {**self.headers, "Cache-Control": NEVER_STORED}
        return JSONResponse(self.config, headers=headers)


def console_router(pages: ConsolePages) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/console/config.json")
    async def config() -> Response:
        return pages.settings()

    @router.get("/console/assets/{relative:path}")
    async def asset(relative: str) -> Response:
        return pages.asset(relative)

    @router.get("/console")
    @router.get("/console/{route:path}")
    async def console(route: str = "") -> Response:
        # The console routes in the browser (history API): every other path is its page.
        return pages.page("index.html", "clinician console")

    return router

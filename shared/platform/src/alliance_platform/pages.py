"""The HTML pages the services serve, and their one Content-Security-Policy.

A page that handles health data runs no third-party script, and a clinic network with closed
egress must still see it: every page loads its scripts and styles from its own origin, and its
`Content-Security-Policy` allows nothing else (no inline script, no CDN; `docs/security.md`,
[decision 0030](../../../../docs/decisions/0030-dev-sign-in-self-hosted-pages-csp.md)).

The API documentation (Swagger UI at `/docs`) is served from the Swagger UI build that the
`fastapi-offline` package carries; its start-up is a served file (`page_assets/swagger-init.js`),
not an inline script, and `page_assets/swagger-contrast.css` darkens its colours to WCAG AA.
FastAPI's own `/docs` and `/redoc` (CDN scripts, an inline start-up) are turned off where each
service makes its app (`docs_url=None, redoc_url=None`).
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

SELF = "'self'"
DOCS = "/docs"
# The Swagger UI build (swagger-ui-bundle.js, swagger-ui.css) carried by a PyPI package.
SWAGGER_UI_DIST = Path(str(files("fastapi_offline") / "static"))
OWN_ASSETS = Path(str(files("alliance_platform") / "page_assets"))
DOCS_ASSETS = {
    f"{DOCS}/swagger-ui-bundle.js": SWAGGER_UI_DIST / "swagger-ui-bundle.js",
    f"{DOCS}/swagger-ui.css": SWAGGER_UI_DIST / "swagger-ui.css",
    f"{DOCS}/swagger-init.js": OWN_ASSETS / "swagger-init.js",
    f"{DOCS}/swagger-contrast.css": OWN_ASSETS / "swagger-contrast.css",
}
# What answers without a token: the page and its assets (the OpenAPI document is public too).
DOCS_PATHS = frozenset({DOCS, *DOCS_ASSETS})
ASSET_CACHE = "public, max-age=3600"


def content_security_policy(
    *,
    connect_src: Sequence[str] = (),
    form_action: Sequence[str] = (),
    img_src: Sequence[str] = ("data:",),
    font_src: Sequence[str] = (),
) -> str:
    """The policy of every page: scripts, styles, fonts and frames from its own origin only,
    no inline script, never framed. `connect_src` adds origins the page may fetch from (an
    identity provider's token endpoint), `form_action` origins a form may post or redirect to
    (Chromium checks a form's redirects against it too), `font_src` other font sources
    (GraphiQL's stylesheet embeds its fonts as `data:` URLs)."""
    directives = {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, *img_src],
        "font-src": [SELF, *font_src],
        "connect-src": [SELF, *connect_src],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": [SELF, *form_action],
    }
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def page_headers(policy: str | None = None) -> dict[str, str]:
    """The headers of every HTML page: its policy (by default the strictest one), no MIME
    sniffing, no referrer (a sign-in redirect carries a code in its URL)."""
    return {
        "Content-Security-Policy": policy or content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def docs_page(title: str, openapi_url: str) -> str:
    """Swagger UI's page: the served bundle and stylesheet, then the served start-up, which
    reads the OpenAPI document's URL from `data-openapi-url`."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}: API documentation</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{DOCS}/swagger-ui.css">
<link rel="stylesheet" href="{DOCS}/swagger-contrast.css">
</head>
<body>
<main id="swagger-ui" data-openapi-url="{html.escape(openapi_url)}"></main>
<script src="{DOCS}/swagger-ui-bundle.js"></script>
<script src="{DOCS}/swagger-init.js"></script>
</body>
</html>
"""


def install_api_docs(app: FastAPI) -> None:
    """Swagger UI at `/docs`, every byte of it from this service, under the page policy."""
    openapi_url = app.openapi_url or "/openapi.json"
    page = docs_page(app.title, openapi_url)

    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=page_headers())

    app.add_api_route(DOCS, docs, methods=["GET"], include_in_schema=False)
    for path, file in DOCS_ASSETS.items():
        app.add_api_route(path, _asset(file), methods=["GET"], include_in_schema=False)


def _asset(file: Path) -> Callable[[], Awaitable[FileResponse]]:
    async def asset() -> FileResponse:
        return FileResponse(
            file,
            headers={"Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff"},
        )

    return asset

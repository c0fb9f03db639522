"""The local stack's OpenID Connect provider, for the clinician console's sign-in. NOT FOR REAL
DATA: whoever reaches its port signs in as anyone on its list, without a password.

    python -m alliance_devstack.issuer   # the launcher starts it with the services

The authorization-code flow with PKCE (S256 only): `/authorize` shows the demo network's people
(`alliance_demo.people`); choosing one redirects to the client's registered redirect URI with a
one-time code, bound to the client, the redirect URI and the code challenge, valid a minute.
`/token` trades it, with the verifier, for an access token the services accept (the stack's
signing key, `DevIssuer.person`) and an ID token. Discovery at
`/.well-known/openid-configuration`, keys at `/jwks.json`.

Configured from the environment: `ALLIANCE_JWT_ISSUER` (its own URL, http on a loopback
address: it binds nothing else), `ALLIANCE_JWT_AUDIENCE`, `ALLIANCE_DEV_SIGNING_KEY_FILE`,
`ALLIANCE_CONSOLE_OIDC_CLIENT_ID` (the one client) and `ALLIANCE_DEV_ISSUER_REDIRECT_URIS` (the
client's redirect URIs, space-separated, matched exactly: never an open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import os
import re
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from alliance_demo.people import Person, demo_people
from alliance_platform.devtoken import DevIssuer
from alliance_platform.pages import content_security_policy, page_headers

CODE_SECONDS = 60
TOKEN_HOURS = 8
# RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~]; an S256 challenge is 43 base64url.
VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
NO_STORE = {"Cache-Control": "no-store"}
STYLE = """body{font-family:system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;
color:#1b1b1b;background:#fff}h1{font-size:1.5rem}p.warning{background:#fff4ce;padding:.5rem}
ul{list-style:none;padding:0}li{border-bottom:1px solid #767676;padding:.5rem 0;display:flex;
gap:1rem;align-items:center;justify-content:space-between}button{font-size:1rem;
padding:.4rem .8rem;background:#0b5394;color:#fff;border:0;border-radius:4px;cursor:pointer}
button:focus{outline:3px solid #1b1b1b;outline-offset:2px}"""


def s256(verifier: str) -> str:
    """PKCE's S256: BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def loopback_origin(url: str) -> tuple[str, int]:
    """The host and port of an http URL on a loopback address; ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.port is None:
        raise ValueError(f"the dev issuer needs an http://127.0.0.1:PORT URL, not {url!r}")
    if not ipaddress.ip_address(parts.hostname).is_loopback:
        raise ValueError(f"the dev issuer binds loopback addresses only, not {parts.hostname}")
    return parts.hostname, parts.port


@dataclass(frozen=True)
class Grant:
    """What a code was issued for."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    person: Person
    nonce: str | None
    expires: float


@dataclass
class DevOidcProvider:
    signer: DevIssuer  # its issuer is this provider's URL
    client_id: str
    redirect_uris: frozenset[str]
    people: Mapping[str, Person]
    codes: dict[str, Grant] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.signer.issuer
        return self.signer.issuer.rstrip("/")

    def discovery(self) -> dict[str, object]:
        return {
            "issuer": self.signer.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks.json",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "scopes_supported": ["openid"],
            "claims_supported": ["sub", "role", "clinics"],
        }

    def authorization_error(self, params: Mapping[str, str]) -> str | None:
        """Why this authorization request cannot go back to its redirect URI (then the page
        says so itself), or None."""
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if params.get("redirect_uri") not in self.redirect_uris:
            return "redirect_uri is not registered for this client"
        return None

    def request_error(self, params: Mapping[str, str]) -> str | None:
        """An OAuth error code to send back to the (registered) redirect URI, or None."""
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if params.get("code_challenge_method") != "S256":  # `plain` (or none) is refused
            return "invalid_request"
        if not CHALLENGE.fullmatch(params.get("code_challenge", "")):
            return "invalid_request"
        return None

    def issue_code(self, params: Mapping[str, str], person: Person) -> str:
        now = time.monotonic()
        self.codes = {c: g for c, g in self.codes.items() if g.expires > now}
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            params["client_id"],
            params["redirect_uri"],
            params["code_challenge"],
            person,
            params.get("nonce"),
            now + CODE_SECONDS,
        )
        return code

    def redeem(self, form: Mapping[str, str]) -> dict[str, object] | str:
        """The token response, or an OAuth error code. A code is spent on its first try."""
        if form.get("grant_type") != "authorization_code":
            return "unsupported_grant_type"
        grant = self.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        if (
            grant is None
            or grant.expires < time.monotonic()
            or grant.client_id != form.get("client_id")
            or grant.redirect_uri != form.get("redirect_uri")
            or not VERIFIER.fullmatch(verifier)
            or not secrets.compare_digest(s256(verifier), grant.code_challenge)
        ):
            return "invalid_grant"
        person = grant.person
        access = self.signer.person(person.subject, person.role, person.clinics, TOKEN_HOURS)
        id_claims: dict[str, object] = {"sub": person.subject, "aud": grant.client_id}
        if grant.nonce:
            id_claims["nonce"] = grant.nonce
        return {
            "access_token": access,
            "id_token": self.signer.sign(id_claims, TOKEN_HOURS),
            "token_type": "Bearer",
            "expires_in": TOKEN_HOURS * 3600,
            "scope": "openid",
        }


def _single(values: Mapping[str, list[str]]) -> dict[str, str]:
    return {key: value[0] for key, value in values.items() if len(value) == 1}


def sign_in_page(provider: DevOidcProvider, params: Mapping[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in ("client_id", "redirect_uri", "response_type", "state", "nonce",
                     "code_challenge", "code_challenge_method")
        if name in params
    )  # fmt: skip
    rows = "".join(
        f"<li><span><strong>{html.escape(p.subject)}</strong>: {p.role.value.replace('_', ' ')}"
        f", {html.escape(', '.join(p.clinics))}</span>"
        f'<form method="post" action="/authorize">{hidden}'
        f'<input type="hidden" name="person" value="{html.escape(p.subject)}">'
        f'<button type="submit" aria-label="Sign in as {html.escape(p.subject)}">Sign in</button>'
        "</form></li>"
        for p in provider.people.values()
    )
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev sign-in: Alliance local stack</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/signin.css"></head>
<body><main>
<h1>Dev sign-in</h1>
<p class="warning">The local stack's identity provider: anyone can sign in as anyone here. Not
for real data.</p>
<p>Sign in to {html.escape(provider.client_id)} as one of the demo network's people:</p>
<ul>{rows}</ul>
</main></body></html>
"""


def create_app(provider: DevOidcProvider) -> Starlette:
    redirect_origins = sorted(
        {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in provider.redirect_uris}
    )
    # The sign-in form redirects to the client: Chromium checks that against form-action.
    policy = content_security_policy(form_action=redirect_origins)

    def refusal(message: str) -> HTMLResponse:
        body = f"<!doctype html><html lang='en'><title>Refused</title><p>{html.escape(message)}"
        return HTMLResponse(body, 400, headers=page_headers(policy))

    def back(params: Mapping[str, str], **answer: str) -> RedirectResponse:
        query = {**answer, "iss": provider.signer.issuer or ""}
        if "state" in params:
            query["state"] = params["state"]
        sep = "&" if "?" in params["redirect_uri"] else "?"
        return RedirectResponse(f"{params['redirect_uri']}{sep}{urlencode(query)}", 303)

    async def authorize(request: Request) -> Response:
        if request.method == "POST":
            params = _single(parse_qs((await request.body()).decode()))
        else:
            params = _single(parse_qs(request.url.query))
        if why := provider.authorization_error(params):
            return refusal(why)
        if error := provider.request_error(params):
            return back(params, error=error)
        if request.method == "GET":
            return HTMLResponse(sign_in_page(provider, params), headers=page_headers(policy))
        person = provider.people.get(params.get("person", ""))
        if person is None:
            return refusal("unknown person")
        return back(params, code=provider.issue_code(params, person))

    async def token(request: Request) -> JSONResponse:
        answer = provider.redeem(_single(parse_qs((await request.body()).decode())))
        if isinstance(answer, str):
            return JSONResponse({"error": answer}, 400, headers=NO_STORE)
        return JSONResponse(answer, headers=NO_STORE)

    async def discovery(_: Request) -> JSONResponse:
        return JSONResponse(provider.discovery())

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse(provider.signer.jwks())

    async def stylesheet(_: Request) -> Response:
        return Response(STYLE, media_type="text/css")

    async def ready(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ready"})

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/authorize", authorize, methods=["GET", "POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/jwks.json", jwks),
            Route("/signin.css", stylesheet),
            Route("/readyz", ready),
        ],
        # The console (another origin) reads discovery and keys and trades its code in script.
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=redirect_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["content-type"],
            )
        ],
    )


def from_environment(env: Mapping[str, str]) -> DevOidcProvider:
    signer = DevIssuer.from_key_file(
        env["ALLIANCE_DEV_SIGNING_KEY_FILE"],
        env["ALLIANCE_JWT_ISSUER"],
        env["ALLIANCE_JWT_AUDIENCE"],
    )
    return DevOidcProvider(
        signer,
        env["ALLIANCE_CONSOLE_OIDC_CLIENT_ID"],
        frozenset(env["ALLIANCE_DEV_ISSUER_REDIRECT_URIS"].split()),
        {person.subject: person for person in demo_people()},
    )


def main() -> int:
    provider = from_environment(os.environ)
    try:
        host, port = loopback_origin(provider.url)
    except ValueError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(create_app(provider), host=host, port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())

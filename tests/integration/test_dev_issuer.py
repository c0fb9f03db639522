"""The local stack's dev sign-in issuer over real HTTP: the authorization-code flow with PKCE
as the console runs it, its refusals, and a token it issued read by the real gateway."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import jwt
import pytest

from alliance_devstack.issuer import loopback_origin
from alliance_devstack.processes import free_port
from alliance_gateway.entrypoints.app import create_app
from alliance_gateway.settings import GatewaySettings
from tests.helpers import AUTH_ENV, SIGNING_KEY_FILE, create_projection_tables, on_a_socket
from tests.integration.test_gateway import seed_case
from tests.signin import DevIssuerEndpoint, Pkce, authorize_url
from tests.stack import Endpoints

CLINIC = "clinic-north"  # the demo network's: the issuer's people belong to its clinics


async def code_for(
    client: httpx.AsyncClient,
    issuer: DevIssuerEndpoint,
    pkce: Pkce,
    person: str = "demo-supervisor",
    **authorize: Any,
) -> str:
    """The sign-in page's form, posted for `person`: the code it redirects back with."""
    page = await client.get(authorize_url(issuer, pkce, **authorize))
    assert page.status_code == 200, page.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(str(page.url)).query).items()}
    answer = await client.post(f"{issuer.url}/authorize", data={**params, "person": person})
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{issuer.redirect_uri}?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"]
    assert query["iss"] == [issuer.url]
    return query["code"][0]


def token_form(issuer: DevIssuerEndpoint, code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": issuer.redirect_uri,
        "client_id": issuer.client_id,
        "code_verifier": verifier,
    }


async def test_code_flow_with_pkce_gives_tokens_the_gateway_accepts(
    dev_issuer: DevIssuerEndpoint,
    stack: Endpoints,
    pg: asyncpg.Pool,
    ids: Callable[[str], str],
) -> None:
    issuer = dev_issuer
    async with httpx.AsyncClient(timeout=10) as client:
        discovery = (await client.get(f"{issuer.url}/.well-known/openid-configuration")).json()
        # An OIDC client checks that the issuer is the URL it was given.
        assert discovery["issuer"] == issuer.url
        assert discovery["code_challenge_methods_supported"] == ["S256"]
        assert discovery["token_endpoint"] == f"{issuer.url}/token"

        page = await client.get(authorize_url(issuer, Pkce.new()))
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "script-src 'self';" in page.headers["content-security-policy"]
        for shown in ("th-north-01", "th-south-01", "demo-supervisor", "clinic admin"):
            assert shown in page.text

        pkce = Pkce.new()
        code = await code_for(client, issuer, pkce)
        origin = issuer.redirect_uri.removesuffix("/console/")
        answer = await client.post(
            f"{issuer.url}/token",
            data=token_form(issuer, code, pkce.verifier),
            headers={"Origin": origin},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == origin
        assert answer.headers["cache-control"] == "no-store"
        tokens = answer.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 8 * 3600

        keys = jwt.PyJWKSet.from_dict((await client.get(discovery["jwks_uri"])).json())
        key = keys.keys[0].key
        id_token = jwt.decode(
            tokens["id_token"], key, algorithms=["RS256"], audience=issuer.client_id
        )
        assert (id_token["iss"], id_token["sub"], id_token["nonce"]) == (
            issuer.url,
            "demo-supervisor",
            "n-1",
        )
        access = jwt.decode(
            tokens["access_token"], key, algorithms=["RS256"], audience=AUTH_ENV[
                "ALLIANCE_JWT_AUDIENCE"]
        )  # fmt: skip
        assert access["role"] == "supervisor"
        assert access["clinics"] == ["clinic-north", "clinic-south"]

        # A code is spent once, also by the one who had it.
        again = await client.post(
            f"{issuer.url}/token", data=token_form(issuer, code, pkce.verifier)
        )
        assert (again.status_code, again.json()) == (400, {"error": "invalid_grant"})

    # The real gateway, trusting the issuer's URL, reads a case of the person's clinic with it.
    await create_projection_tables(stack, "scoring")
    case = ids("case")
    await seed_case(pg, CLINIC, case)
    settings = GatewaySettings.model_validate(
        {**stack.service_env("gateway"), **issuer.service_env()}
    )
    async with (
        on_a_socket(create_app(settings), issuer.callback_port) as gateway,
        httpx.AsyncClient(timeout=10) as client,
    ):
        query = "query($c: ID!, $k: ID!) { case(clinicId: $c, caseId: $k) { caseId } }"
        read = await client.post(
            f"{gateway}/graphql",
            json={"query": query, "variables": {"c": CLINIC, "k": case}},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert read.status_code == 200, read.text
        assert read.json() == {"data": {"case": {"caseId": case}}}


async def test_refusals(dev_issuer: DevIssuerEndpoint) -> None:
    issuer = dev_issuer
    async with httpx.AsyncClient(timeout=10) as client:
        # The wrong verifier: refused, and the code is spent.
        pkce = Pkce.new()
        code = await code_for(client, issuer, pkce)
        wrong = await client.post(
            f"{issuer.url}/token", data=token_form(issuer, code, Pkce.new().verifier)
        )
        assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_grant"})
        late = await client.post(
            f"{issuer.url}/token", data=token_form(issuer, code, pkce.verifier)
        )
        assert late.json() == {"error": "invalid_grant"}

        # The code is bound to its redirect URI and client.
        for field, value in (("redirect_uri", "http://127.0.0.1:1/console/"), ("client_id", "x")):
            code = await code_for(client, issuer, pkce)
            form = {**token_form(issuer, code, pkce.verifier), field: value}
            bound = await client.post(f"{issuer.url}/token", data=form)
            assert bound.json() == {"error": "invalid_grant"}, field

        # An unregistered redirect URI is never redirected to: the page refuses itself.
        for elsewhere in ("https://attacker.example/cb", f"{issuer.redirect_uri}x"):
            page = await client.get(authorize_url(issuer, pkce, redirect_uri=elsewhere))
            assert page.status_code == 400
            assert "location" not in page.headers
            posted = await client.post(
                f"{issuer.url}/authorize",
                data={
                    "client_id": issuer.client_id,
                    "redirect_uri": elsewhere,
                    "response_type": "code",
                    "code_challenge": pkce.challenge,
                    "code_challenge_method": "S256",
                    "person": "demo-supervisor",
                },
            )
            assert posted.status_code == 400
            assert "location" not in posted.headers

        # PKCE's `plain` method is refused (back to the registered URI, with the error).
        plain = await client.get(authorize_url(issuer, pkce, method="plain"))
        assert plain.status_code == 303
        query = parse_qs(urlsplit(plain.headers["location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "code" not in query

        # Someone not on the page cannot be signed in as.
        params = parse_qs(urlsplit(authorize_url(issuer, pkce)).query)
        nobody = await client.post(
            f"{issuer.url}/authorize",
            data={**{k: v[0] for k, v in params.items()}, "person": "someone-else"},
        )
        assert nobody.status_code == 400


def test_binds_loopback_only() -> None:
    assert loopback_origin("http://127.0.0.1:8005") == ("127.0.0.1", 8005)
    for url in ("http://0.0.0.0:8005", "http://192.0.2.1:8005", "https://127.0.0.1:8005"):
        with pytest.raises(ValueError, match="dev issuer"):
            loopback_origin(url)
    port = free_port()
    refused = subprocess.run(
        [sys.executable, "-m", "alliance_devstack.issuer"],
        env={
            **os.environ,
            **AUTH_ENV,
            "ALLIANCE_DEV_SIGNING_KEY_FILE": str(SIGNING_KEY_FILE),
            "ALLIANCE_JWT_ISSUER": f"http://0.0.0.0:{port}",
            "ALLIANCE_CONSOLE_OIDC_CLIENT_ID": "alliance-console",
            "ALLIANCE_DEV_ISSUER_REDIRECT_URIS": "http://127.0.0.1:1/console/",
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2
    assert "loopback addresses only" in refused.stderr

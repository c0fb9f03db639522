"""The dev sign-in issuer (`alliance_devstack.issuer`) as the tests run it, and the client side
of its flow (PKCE, the authorization URL): for the integration test of the flow and for the
browser tests, which sign in through its page (`tests/browser/browsing.py`)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from alliance_devstack.processes import free_port
from alliance_devstack.services import CONSOLE_CLIENT_ID, issuer_process
from tests.helpers import AUTH_ENV, SIGNING_KEY_FILE

CALLBACK_PATH = "/console/"


@dataclass(frozen=True)
class DevIssuerEndpoint:
    url: str  # also the `iss` of its tokens: a service that trusts it is given this
    client_id: str
    callback_port: int  # its one redirect URI is on this port: whoever serves it, in turn

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.callback_port}{CALLBACK_PATH}"

    def service_env(self) -> dict[str, str]:
        """What a service needs to accept its tokens (the tests' key and audience)."""
        return {**AUTH_ENV, "ALLIANCE_JWT_ISSUER": self.url}


def running_dev_issuer(log_dir: Path) -> Iterator[DevIssuerEndpoint]:
    """The issuer as the launcher starts it (its own process), signing with the tests' key."""
    callback_port = free_port()
    env = {
        **os.environ,
        **AUTH_ENV,
        "ALLIANCE_DEV_SIGNING_KEY_FILE": str(SIGNING_KEY_FILE),
    }
    process = issuer_process(
        env,
        log_dir / "issuer.log",
        port=free_port(),
        redirect_uris=[f"http://127.0.0.1:{callback_port}{CALLBACK_PATH}"],
    )
    with process.running() as url:
        yield DevIssuerEndpoint(url, CONSOLE_CLIENT_ID, callback_port)


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorize_url(
    issuer: DevIssuerEndpoint,
    pkce: Pkce,
    *,
    state: str = "st-1",
    redirect_uri: str | None = None,
    method: str = "S256",
) -> str:
    query = {
        "response_type": "code",
        "client_id": issuer.client_id,
        "redirect_uri": redirect_uri or issuer.redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": "n-1",
        "code_challenge": pkce.challenge if method == "S256" else pkce.verifier[:43],
        "code_challenge_method": method,
    }
    return f"{issuer.url}/authorize?{urlencode(query)}"

"""Token attacks against the verifier every door uses, and its JWKS handling: keys fetched
without blocking, refreshed (rate-limited) for an unknown key id, 503 when unreachable."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from alliance_contracts.access import Caller, ClinicSystem, Role, Scope
from alliance_devstack.processes import free_port
from alliance_intake.entrypoints.http import create_app
from alliance_intake.settings import IntakeSettings
from alliance_platform.devtoken import DevIssuer
from alliance_platform.tokens import (
    InvalidToken,
    TokenServiceUnavailable,
    TokenSettings,
    TokenVerifier,
    VerifiedTokens,
)
from tests.helpers import AUTH_ENV, serving
from tests.stack import Endpoints

ISS, AUD = "https://idp.example.test", "alliance"
IDP = DevIssuer.generate(ISS, AUD)
OTHER_IDP = DevIssuer.generate("https://elsewhere.test", "another-app")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A token made by hand (for algorithms PyJWT refuses to produce)."""
    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    sig = b64(hmac.new(key, head.encode(), hashlib.sha256).digest()) if key else ""
    return f"{head}.{sig}"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": "sup-1", "role": "supervisor", "clinics": ["c1"], "iat": now,
            "exp": now + 300, "iss": ISS, "aud": AUD}  # fmt: skip
    return {k: v for k, v in {**base, **overrides}.items() if v is not None}


@contextlib.contextmanager
def jwks_server(documents: list[dict[str, Any]]) -> Iterator[tuple[str, list[int]]]:
    """Serves documents[0] (tests swap it to rotate keys); counts the fetches."""
    fetches: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches.append(1)
            body = json.dumps(documents[0]).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/jwks.json", fetches
    finally:
        server.shutdown()


def verifier(tmp_path: Any, **overrides: Any) -> TokenVerifier:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(IDP.jwks()))
    settings: dict[str, Any] = {"jwks_file": str(path), "audience": AUD, "issuer": ISS}
    return TokenVerifier(TokenSettings(**{**settings, **overrides}))


async def test_a_valid_token_names_the_caller(tmp_path: Any) -> None:
    v = verifier(tmp_path)
    person = await v.principal(f"Bearer {IDP.sign(claims())}")
    assert person == Caller("sup-1", Role.SUPERVISOR, frozenset({"c1"}), person.expires_at)
    ehr = await v.principal(f"Bearer {IDP.clinic_system('ehr', [Scope.RESPONSES_WRITE], ['c1'])}")
    assert isinstance(ehr, ClinicSystem)
    assert ehr.scopes == {Scope.RESPONSES_WRITE}


def signed(payload: dict[str, Any]) -> str:
    """Signed by our identity provider's key, with exactly these claims."""
    return jwt.encode(payload, IDP.private_key_pem or b"", "RS256", headers={"kid": IDP.kid})


def public_pem() -> bytes:
    private = serialization.load_pem_private_key(IDP.private_key_pem or b"", password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


ATTACKS: dict[str, str] = {
    "alg none": forged({"alg": "none", "typ": "JWT"}, claims(), None),
    "HS256 without dev mode": jwt.encode(claims(), "any-secret-at-all-32-bytes-long!", "HS256"),
    "HS256 signed with the RSA public key": forged({"alg": "HS256"}, claims(), public_pem()),
    "unknown kid": jwt.encode(
        claims(), OTHER_IDP.private_key_pem or b"", "RS256", headers={"kid": "not-ours"}
    ),
    "our kid, another key": jwt.encode(
        claims(), OTHER_IDP.private_key_pem or b"", "RS256", headers={"kid": IDP.kid}
    ),
    "expired": signed(claims(exp=int(time.time()) - 120)),
    "not yet valid": signed(claims(nbf=int(time.time()) + 600)),
    "wrong audience": signed(claims(aud="another-app")),
    "wrong issuer": signed(claims(iss="https://elsewhere.test")),
    "another issuer's token": OTHER_IDP.sign(claims(iss=None, aud=None)),
    "no sub": signed(claims(sub=None)),
    "an e-mail as subject": signed(claims(sub="alice@clinic.example")),
    "no exp": signed(claims(exp=None)),
    "no iat": signed(claims(iat=None)),
    "no aud": signed(claims(aud=None)),
    "no iss": signed(claims(iss=None)),
    "no clinics": signed(claims(clinics=None)),
    "clinics not a list": signed(claims(clinics="c1")),
    "neither role nor scope": signed(claims(role=None)),
    "unknown role": signed(claims(role="root")),
    "not a JWT": "abc.def",
    "empty": "",
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attacks_are_refused(tmp_path: Any, attack: str) -> None:
    v = verifier(tmp_path)
    with pytest.raises(InvalidToken):
        await v.principal(f"Bearer {ATTACKS[attack]}")


async def test_hs256_is_refused_beside_a_jwks_even_in_dev_mode(tmp_path: Any) -> None:
    secret = "dev-secret-for-this-test-only-0001"
    with_jwks = verifier(tmp_path, dev_mode=True, dev_secret=secret)
    token = jwt.encode(claims(), secret, "HS256")
    with pytest.raises(InvalidToken):
        await with_jwks.principal(f"Bearer {token}")
    dev_only = TokenVerifier(TokenSettings(dev_mode=True, dev_secret=secret))
    assert (await dev_only.principal(f"Bearer {token}")).subject == "sup-1"


def test_audience_and_issuer_are_required_outside_dev_mode(tmp_path: Any) -> None:
    (tmp_path / "jwks.json").write_text(json.dumps(IDP.jwks()))
    for missing in ({"audience": None}, {"issuer": None}):
        settings: dict[str, Any] = {
            "jwks_file": str(tmp_path / "jwks.json"), "audience": AUD, "issuer": ISS,
        }  # fmt: skip
        with pytest.raises(ValueError, match="AUDIENCE and ALLIANCE_JWT_ISSUER"):
            TokenVerifier(TokenSettings(**{**settings, **missing}))
    with pytest.raises(ValueError, match="no way to verify"):
        TokenVerifier(TokenSettings(audience=AUD, issuer=ISS))


async def test_jwks_url_refreshes_for_a_new_key_at_most_once_per_interval() -> None:
    rotated, stranger = DevIssuer.generate(ISS, AUD), DevIssuer.generate(ISS, AUD)
    documents = [IDP.jwks()]
    with jwks_server(documents) as (url, fetches):
        settings = TokenSettings(jwks_url=url, audience=AUD, issuer=ISS, jwks_refresh_seconds=1)
        v = TokenVerifier(settings)
        for _ in range(3):
            assert (await v.principal(f"Bearer {IDP.sign(claims())}")).subject == "sup-1"
        assert len(fetches) == 1  # cached
        documents[0] = {"keys": IDP.jwks()["keys"] + rotated.jwks()["keys"]}  # the IdP rotates
        await asyncio.sleep(1.1)
        assert (await v.principal(f"Bearer {rotated.sign(claims())}")).subject == "sup-1"
        assert len(fetches) == 2  # the unknown kid was fetched
        for _ in range(5):  # unknown kids within the interval do not hammer the provider
            with pytest.raises(InvalidToken):
                await v.principal(f"Bearer {stranger.sign(claims())}")
        assert len(fetches) == 2


async def test_a_verified_token_is_remembered_until_it_expires(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = verifier(tmp_path)
    decoded: list[str] = []
    real_decode = jwt.decode

    def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return real_decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting_decode)
    token = IDP.sign(claims())
    first = await v.principal(f"Bearer {token}")
    assert await v.principal(f"Bearer {token}") == first
    assert decoded == [token]  # the second request skipped decoding
    other = IDP.sign(claims(sub="sup-2"))
    assert (await v.principal(f"Bearer {other}")).subject == "sup-2"  # no confusion
    assert len(decoded) == 2


def test_a_remembered_token_ends_at_its_expiry_or_the_ttl() -> None:
    now = [1000.0]
    remembered = VerifiedTokens(ttl=60, size=2, clock=lambda: now[0])
    soon = Caller("sup-1", Role.SUPERVISOR, frozenset({"c1"}), expires_at=1010)
    later = Caller("sup-2", Role.SUPERVISOR, frozenset({"c1"}), expires_at=5000)
    remembered.put("a", soon, generation=1)
    remembered.put("b", later, generation=1)
    assert remembered.get("a", 1) == soon
    assert remembered.get("b", 2) is None  # verified with other keys: checked again
    remembered.put("b", later, generation=1)
    now[0] = 1010.0
    assert remembered.get("a", 1) is None  # expired
    assert remembered.get("b", 1) == later
    now[0] = 1060.0
    assert remembered.get("b", 1) is None  # the ttl
    for key in "cde":  # bounded: the oldest goes first
        remembered.put(key, later, generation=1)
    assert remembered.get("c", 1) is None
    assert remembered.get("e", 1) == later


async def test_a_withdrawn_key_is_refused_once_the_cache_is_old() -> None:
    documents = [IDP.jwks()]
    with jwks_server(documents) as (url, _):
        v = TokenVerifier(
            TokenSettings(
                jwks_url=url, audience=AUD, issuer=ISS,
                jwks_refresh_seconds=0.5, jwks_max_age_seconds=0.5,
            )
        )  # fmt: skip
        assert (await v.principal(f"Bearer {IDP.sign(claims())}")).subject == "sup-1"
        documents[0] = OTHER_IDP.jwks()  # the provider withdrew our key (compromised)
        await asyncio.sleep(0.6)
        with pytest.raises(InvalidToken):
            await v.principal(f"Bearer {IDP.sign(claims())}")


def test_a_jwks_url_must_be_https_off_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        TokenVerifier(TokenSettings(jwks_url="http://idp.example/jwks", audience=AUD, issuer=ISS))


async def test_an_unreachable_jwks_is_unavailable_not_unauthorised(
    stack: Endpoints,
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"  # nothing listens there
    v = TokenVerifier(TokenSettings(jwks_url=dead, audience=AUD, issuer=ISS))
    with pytest.raises(TokenServiceUnavailable):
        await v.principal(f"Bearer {IDP.sign(claims())}")
    env = {**stack.service_env("intake"), **AUTH_ENV, "ALLIANCE_JWKS_FILE": ""}
    env |= {"ALLIANCE_JWKS_URL": dead, "ALLIANCE_JWT_AUDIENCE": AUD, "ALLIANCE_JWT_ISSUER": ISS}
    async with serving(create_app(IntakeSettings.model_validate(env))) as client:
        r = await client.get(
            "/v1/outbox", headers={"Authorization": f"Bearer {IDP.sign(claims())}"}
        )
    assert r.status_code == 503
    assert r.headers["retry-after"]
    assert r.json()["detail"][0]["type"] == "unavailable"

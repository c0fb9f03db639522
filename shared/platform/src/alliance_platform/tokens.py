"""Bearer tokens: RS256 JWTs checked against a JWKS (file or URL); HS256 only in dev mode and
only when no JWKS is configured.

Outside dev mode the audience and issuer are required and checked, so a token another issuer
made for another application is refused. The JWKS is fetched without blocking the event loop,
cached, and fetched again when a token names an unknown key id (at most once per
`jwks_refresh_seconds`), so signing keys can rotate. A JWKS that cannot be reached is
`TokenServiceUnavailable` (503), not an invalid token (401).

A token once verified is remembered for a short while (`VerifiedTokens`), so a client's next
requests skip decoding it again (about a fifth of intake's CPU per request).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

from alliance_contracts.access import Caller, ClinicSystem, Principal, Role, Scope
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN


class InvalidToken(Exception):
    """Missing, expired, wrongly signed or malformed: answered with 401. The message names the
    rule, never the token's content."""


class TokenServiceUnavailable(Exception):
    """The keys to check the token cannot be had right now: answered with 503."""


@dataclass(frozen=True)
class TokenSettings:
    jwks_file: str | None = None
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None
    dev_mode: bool = False
    dev_secret: str | None = None
    leeway_seconds: int = 30
    jwks_refresh_seconds: float = 30.0  # at most one fetch per interval
    jwks_max_age_seconds: float = 300.0  # cached keys are fetched again after this
    jwks_timeout_seconds: float = 5.0
    verified_cache_seconds: float = 60.0  # how long a verified token is remembered (0: never)
    verified_cache_size: int = 4096

    @property
    def jwks_configured(self) -> bool:
        return bool(self.jwks_file or self.jwks_url)

    def problems(self) -> list[str]:
        """What makes these settings unusable (empty when they are fine)."""
        if self.jwks_file and self.jwks_url:
            return ["set ALLIANCE_JWKS_FILE or ALLIANCE_JWKS_URL, not both"]
        if self.jwks_url and not _trusted_transport(self.jwks_url):
            return ["ALLIANCE_JWKS_URL must be https (http only on loopback)"]
        if not self.jwks_configured and not (self.dev_mode and self.dev_secret):
            return [
                "no way to verify tokens: set ALLIANCE_JWKS_FILE or ALLIANCE_JWKS_URL "
                "(or, for development only, ALLIANCE_DEV_MODE=1 with ALLIANCE_DEV_JWT_SECRET)"
            ]
        if not self.dev_mode and not (self.audience and self.issuer):
            return ["ALLIANCE_JWT_AUDIENCE and ALLIANCE_JWT_ISSUER are required outside dev mode"]
        return []


def _trusted_transport(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    try:
        return parts.scheme == "http" and ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return parts.hostname == "localhost"


class KeySet:
    """The JWKS, cached. A file is read once; a URL is fetched on first use, again (rate-
    limited) when a token names a key id the cache does not hold, and again once the cache is
    older than `jwks_max_age_seconds`, so a key the provider withdrew stops being accepted."""

    def __init__(self, settings: TokenSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._keys: dict[str | None, Any] = {}
        self.generation = 0  # counts loads: a token verified with older keys is checked again
        self._fetched_at: float | None = None
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()
        if settings.jwks_file:
            self._load(json.loads(Path(settings.jwks_file).read_text()))

    def _load(self, document: dict[str, Any]) -> None:
        keys: dict[str | None, Any] = {}
        for jwk in jwt.PyJWKSet.from_dict(document).keys:
            if jwk.key_type == "RSA" and jwk.public_key_use in (None, "sig"):
                keys[jwk.key_id] = jwk.key
        self._keys = keys
        self.generation += 1

    async def _fetch(self) -> None:
        assert self._settings.jwks_url is not None
        try:
            async with httpx.AsyncClient(timeout=self._settings.jwks_timeout_seconds) as client:
                response = await client.get(self._settings.jwks_url)
                response.raise_for_status()
                self._load(response.json())
                self._loaded_at = self._clock()
        except Exception as exc:  # any answer that is not a JWKS: no keys, not a crash
            raise TokenServiceUnavailable(f"JWKS unavailable: {type(exc).__name__}") from exc
        finally:
            self._fetched_at = self._clock()

    def _may_refresh(self) -> bool:
        return self._fetched_at is None or (
            self._clock() - self._fetched_at >= self._settings.jwks_refresh_seconds
        )

    def stale(self) -> bool:
        """Old enough to be fetched again: no token is taken on the old keys' word."""
        return self._loaded_at is not None and (
            self._clock() - self._loaded_at >= self._settings.jwks_max_age_seconds
        )

    async def key(self, kid: str | None) -> Any:
        if self._settings.jwks_url and (kid not in self._keys or self.stale()):
            async with self._lock:
                if kid in self._keys and not self.stale():
                    pass  # another request fetched it meanwhile
                elif self._may_refresh():
                    try:
                        await self._fetch()
                    except TokenServiceUnavailable:
                        if not self._keys:
                            raise  # nothing to check any token with: 503
                        # Otherwise the cached keys serve while the provider is away.
                elif not self._keys:
                    raise TokenServiceUnavailable("JWKS unavailable (retrying shortly)")
        if kid in self._keys:
            return self._keys[kid]
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        raise InvalidToken("unknown key id")


class VerifiedTokens:
    """Tokens verified lately and whom they name. An entry is used until the token expires or
    `ttl` seconds pass, whichever is first, and only with the keys it was verified with (a key
    set fetched again, or old enough to be, makes every token be checked again). Bounded: the
    oldest entries go first."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.time) -> None:
        self._ttl, self._size, self._clock = ttl, size, clock
        self._entries: dict[str, tuple[Principal, float, int]] = {}

    def get(self, token: str, generation: int) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, until, verified_with = entry
        if verified_with != generation or self._clock() >= until:
            del self._entries[token]
            return None
        return principal

    def put(self, token: str, principal: Principal, generation: int) -> None:
        if self._ttl <= 0:
            return
        until = min(float(principal.expires_at or 0), self._clock() + self._ttl)
        while len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (principal, until, generation)


class TokenVerifier:
    def __init__(self, settings: TokenSettings) -> None:
        if problems := settings.problems():
            raise ValueError("; ".join(problems))
        self.settings = settings
        self._keys = KeySet(settings) if settings.jwks_configured else None
        self._verified = VerifiedTokens(
            settings.verified_cache_seconds, settings.verified_cache_size
        )

    async def _key(self, token: str) -> tuple[Any, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        alg = header.get("alg")
        if alg == "HS256":
            # Never beside a JWKS: that would let a token signed with the (public) RSA key as
            # an HMAC secret through, and a dev secret would outlive dev mode.
            if self._keys is not None or not self.settings.dev_mode:
                raise InvalidToken("HS256 tokens are accepted in dev mode without a JWKS only")
            return self.settings.dev_secret, "HS256"
        if alg != "RS256" or self._keys is None:
            raise InvalidToken("unsupported algorithm")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("kid: must be a string")
        return await self._keys.key(kid), "RS256"

    async def principal(self, authorization: str | None) -> Principal:
        """The caller of a request, from its `Authorization` header value."""
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise InvalidToken("missing bearer token")
        token = authorization[7:].strip()
        keys = self._keys
        generation = keys.generation if keys is not None else 0
        fresh_keys = keys is None or not keys.stale()
        if fresh_keys and (known := self._verified.get(token, generation)) is not None:
            return known
        key, alg = await self._key(token)
        generation = keys.generation if keys is not None else 0  # _key may have fetched
        required = ["exp", "iat", "sub"] + (["aud", "iss"] if not self.settings.dev_mode else [])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                leeway=self.settings.leeway_seconds,
                options={"require": required, "verify_aud": bool(self.settings.audience)},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(type(exc).__name__) from exc
        principal = principal_from_claims(claims)
        self._verified.put(token, principal, generation)
        return principal

    async def person(self, authorization: str | None) -> Caller:
        """A person's token (the gateway, the alerts webhook API): machine tokens are refused."""
        principal = await self.principal(authorization)
        if not isinstance(principal, Caller):
            raise InvalidToken("a person's token is required")
        return principal


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """People carry `role`; clinic systems carry `scope` (space-separated, as OAuth2 has it).
    Both carry `clinics`, the list of clinic ids they act for."""
    clinics = claims.get("clinics")
    if not isinstance(clinics, list) or not all(isinstance(c, str) for c in clinics):
        raise InvalidToken("clinics: must be a list of clinic ids")
    subject, expires = str(claims["sub"]), int(claims["exp"])
    # Subjects travel in events and audit records: pseudonymous ids only, never e-mails.
    if not re.fullmatch(PSEUDONYMOUS_ID_PATTERN, subject):
        raise InvalidToken("sub: must be a pseudonymous id (letters, digits, . _ : -)")
    if "role" in claims:
        try:
            role = Role(claims["role"])
        except ValueError as exc:
            raise InvalidToken("role: unknown role") from exc
        return Caller(subject, role, frozenset(clinics), expires)
    scope = claims.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        raise InvalidToken("role or scope: one is required")
    known = {s.value for s in Scope}
    scopes = frozenset(Scope(s) for s in scope.split() if s in known)
    return ClinicSystem(subject, frozenset(clinics), scopes, expires)

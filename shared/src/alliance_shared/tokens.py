"""Bearer tokens: RS256 JWTs checked against a JWKS (file or URL); HS256 only in dev mode."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from alliance_shared.access import Caller, Role


class InvalidToken(Exception):
    """Missing, expired, wrongly signed or malformed: answered with 401."""


@dataclass(frozen=True)
class TokenSettings:
    jwks_file: str | None = None
    jwks_url: str | None = None
    audience: str | None = None
    issuer: str | None = None
    dev_mode: bool = False
    dev_secret: str | None = None


class TokenVerifier:
    def __init__(self, settings: TokenSettings) -> None:
        self.settings = settings
        self._jwks: jwt.PyJWKSet | None = None
        self._client: jwt.PyJWKClient | None = None
        if settings.jwks_file:
            self._jwks = jwt.PyJWKSet.from_dict(json.loads(Path(settings.jwks_file).read_text()))
        elif settings.jwks_url:
            self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True)
        if not (self._jwks or self._client or (settings.dev_mode and settings.dev_secret)):
            raise ValueError(
                "no way to verify tokens: set ALLIANCE_JWKS_FILE or ALLIANCE_JWKS_URL "
                "(or ALLIANCE_DEV_MODE=1 with ALLIANCE_DEV_JWT_SECRET for development)"
            )

    def _key(self, token: str) -> tuple[Any, str]:
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if alg == "HS256":
            if not (self.settings.dev_mode and self.settings.dev_secret):
                raise InvalidToken("HS256 tokens are accepted in dev mode only")
            return self.settings.dev_secret, "HS256"
        if alg != "RS256":
            raise InvalidToken("unsupported algorithm")
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key, "RS256"
        if self._jwks is None:
            raise InvalidToken("RS256 needs a JWKS")
        kid = header.get("kid")
        keys = [k for k in self._jwks.keys if kid is None or k.key_id == kid]
        if not keys:
            raise InvalidToken("unknown key id")
        return keys[0].key, "RS256"

    def caller(self, authorization: str | None) -> Caller:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise InvalidToken("missing bearer token")
        token = authorization.split(" ", 1)[1].strip()
        try:
            key, alg = self._key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.settings.audience,
                issuer=self.settings.issuer,
                options={"require": ["exp", "sub"], "verify_aud": bool(self.settings.audience)},
            )
            role = Role(claims["role"])
            clinics = claims.get("clinics", [])
            if not isinstance(clinics, list) or not all(isinstance(c, str) for c in clinics):
                raise InvalidToken("clinics: must be a list of clinic ids")
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        return Caller(subject=str(claims["sub"]), role=role, clinics=frozenset(clinics))

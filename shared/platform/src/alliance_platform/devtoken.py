"""Tokens for development and tests, as an identity provider would issue them.

The local stack (`./dev up`) and the tests run the services as in production: RS256 tokens
checked against a JWKS, with audience and issuer. This module holds the stand-in identity
provider: a generated RSA key whose public half is the JWKS the services read. A person's
token carries `role`; a clinic system's (OAuth2 client credentials) carries `scope`.

    python -m alliance_platform.devtoken --sub th-07 --role clinician --clinic clinic-north
    python -m alliance_platform.devtoken --client ehr-north --scope responses:write \\
        --clinic clinic-north

The key comes from `ALLIANCE_DEV_SIGNING_KEY_FILE` (written by the local launcher) with
`ALLIANCE_JWT_ISSUER` and `ALLIANCE_JWT_AUDIENCE`; `--secret` issues HS256 tokens instead,
which only a service in dev mode without a JWKS accepts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from alliance_contracts.access import Role, Scope


@dataclass(frozen=True)
class DevIssuer:
    """Signs tokens: RS256 with `private_key_pem`, or HS256 with `secret` (dev mode)."""

    issuer: str | None = None
    audience: str | None = None
    private_key_pem: bytes | None = None
    kid: str | None = None
    secret: str | None = None

    @classmethod
    def generate(cls, issuer: str, audience: str) -> DevIssuer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(issuer, audience, pem, f"dev-{uuid.uuid4().hex[:8]}")

    @classmethod
    def from_key_file(cls, path: str | Path, issuer: str | None, audience: str | None) -> DevIssuer:
        """The key file holds `{"kid": ..., "private_key_pem": ...}` (see `save`)."""
        stored = json.loads(Path(path).read_text())
        return cls(issuer, audience, stored["private_key_pem"].encode(), stored["kid"])

    def save(self, key_file: Path, jwks_file: Path) -> None:
        """The private key (owner-only) and the public JWKS the services read."""
        assert self.private_key_pem is not None
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.touch(mode=0o600)
        key_file.write_text(
            json.dumps({"kid": self.kid, "private_key_pem": self.private_key_pem.decode()})
        )
        jwks_file.write_text(json.dumps(self.jwks()))

    def jwks(self) -> dict[str, Any]:
        assert self.private_key_pem is not None
        private = serialization.load_pem_private_key(self.private_key_pem, password=None)
        assert isinstance(private, rsa.RSAPrivateKey)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any], hours: float = 8) -> str:
        now = int(time.time())
        claims = {"iat": now, "exp": now + int(hours * 3600), **claims}
        if self.issuer:
            claims.setdefault("iss", self.issuer)
        if self.audience:
            claims.setdefault("aud", self.audience)
        if self.secret:
            return jwt.encode(claims, self.secret, algorithm="HS256")
        assert self.private_key_pem is not None, "an RSA key or a secret is needed"
        return jwt.encode(
            claims, self.private_key_pem, algorithm="RS256", headers={"kid": self.kid}
        )

    def person(self, subject: str, role: Role, clinics: Iterable[str], hours: float = 8) -> str:
        return self.sign({"sub": subject, "role": role.value, "clinics": list(clinics)}, hours)

    def clinic_system(
        self, client: str, scopes: Iterable[Scope], clinics: Iterable[str], hours: float = 8
    ) -> str:
        claims = {
            "sub": client,
            "scope": " ".join(s.value for s in scopes),
            "clinics": list(clinics),
        }
        return self.sign(claims, hours)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--sub", help="a person's pseudonymous id (with --role)")
    who.add_argument("--client", help="a clinic system's client id (with --scope)")
    who.add_argument(
        "--init", metavar="DIR", help="write a new signing key and its JWKS into DIR (once)"
    )
    parser.add_argument("--role", choices=[r.value for r in Role])
    parser.add_argument(
        "--scope", action="append", default=[], choices=[s.value for s in Scope],
        help="a clinic system's scope; repeat for several",
    )  # fmt: skip
    parser.add_argument("--clinic", action="append", default=[], help="repeat for several")
    parser.add_argument("--hours", type=float, default=8)
    parser.add_argument("--key-file", default=os.environ.get("ALLIANCE_DEV_SIGNING_KEY_FILE"))
    parser.add_argument("--secret", help="HS256 instead (services in dev mode without a JWKS)")
    args = parser.parse_args()
    issuer, audience = (
        os.environ.get("ALLIANCE_JWT_ISSUER"),
        os.environ.get("ALLIANCE_JWT_AUDIENCE"),
    )
    if args.init:
        key_file, jwks_file = Path(args.init) / "signing-key.json", Path(args.init) / "jwks.json"
        if not key_file.exists():
            DevIssuer.generate(issuer or "", audience or "").save(key_file, jwks_file)
        return 0
    if args.secret:
        signer = DevIssuer(issuer, audience, secret=args.secret)
    elif args.key_file:
        signer = DevIssuer.from_key_file(args.key_file, issuer, audience)
    else:
        parser.error("--key-file (or ALLIANCE_DEV_SIGNING_KEY_FILE) or --secret is required")
    if args.sub:
        if not args.role:
            parser.error("--sub needs --role")
        print(signer.person(args.sub, Role(args.role), args.clinic, args.hours))
    else:
        if not args.scope:
            parser.error("--client needs --scope")
        scopes = [Scope(s) for s in args.scope]
        print(signer.clinic_system(args.client, scopes, args.clinic, args.hours))
    return 0


if __name__ == "__main__":
    sys.exit(main())

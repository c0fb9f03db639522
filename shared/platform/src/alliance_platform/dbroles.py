"""PostgreSQL roles: one login role per service, each owning only its own schemas.

- `alliance_intake` owns `intake`; `alliance_scoring` owns `scoring` and its slots
  `scoring_blue`, `scoring_green`; `alliance_alerts` owns `alerts`, its slots `alerts_blue`,
  `alerts_green`, and `alerts_delivery`; `alliance_gateway` owns `gateway`. (A projection's
  stable schema holds the views readers name; its slots hold the generations' tables:
  `alliance_platform.projections`.)
- `alliance_read_models` (no login) may read the tables the projections declare as read
  models; the gateway's role is its only member. The owners grant that when they create their
  tables (`db.create_schema`), so a rebuild re-applies it.
- No role but the administrator may create schemas, and PUBLIC may not connect.

Run once per database by an administrator (the launcher, compose's `db-init` job, the test
fixtures); idempotent:

    python -m alliance_platform.dbroles            # DATABASE_URL: an administrator's URL
    python -m alliance_platform.dbroles generate-secrets DIR   # compose's `secrets-init` job

`generate-secrets` writes random secrets once, one directory per consumer so that each can be
given only its own: DIR/postgres/password (the administrator), DIR/<service>/db-password and
DIR/alerts/webhook-keys (the key that seals webhook secrets).

Passwords come from `ALLIANCE_DB_PASSWORD_<SERVICE>` or the file named by
`ALLIANCE_DB_PASSWORD_<SERVICE>_FILE`; without one a role has no password (only for clusters
that authenticate by other means, as the local launcher's loopback `trust`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

SCHEMAS: dict[str, tuple[str, ...]] = {
    "intake": ("intake",),
    "scoring": ("scoring", "scoring_blue", "scoring_green"),
    "alerts": ("alerts", "alerts_blue", "alerts_green", "alerts_delivery"),
    "gateway": ("gateway",),
}
READER_ROLE = "alliance_read_models"
READERS = ("gateway",)


def role_of(service: str) -> str:
    return f"alliance_{service}"


def with_login(url: str, user: str | None, password: str | None) -> str:
    """`url` with this user (None: keep the URL's) and password (None: none)."""
    parts = urlsplit(url)
    login = quote(user if user is not None else parts.username or "", safe="")
    if password:
        login += ":" + quote(password, safe="")
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def service_url(admin_url: str, service: str, password: str | None = None) -> str:
    """The administrator's URL with the service's role (and password) instead."""
    return with_login(admin_url, role_of(service), password)


def passwords_from_env(env: Mapping[str, str] = os.environ) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for service in SCHEMAS:
        name = f"ALLIANCE_DB_PASSWORD_{service.upper()}"
        if path := env.get(f"{name}_FILE"):
            found[service] = Path(path).read_text().strip()
        else:
            found[service] = env.get(name) or None
    return found


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def bootstrap(admin_url: str, passwords: Mapping[str, str | None]) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('alliance-ddl'))")
            database = await conn.fetchval("SELECT current_database()")
            await _role(conn, READER_ROLE, login=False, password=None)
            await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            for service, schemas in SCHEMAS.items():
                role = role_of(service)
                await _role(conn, role, login=True, password=passwords.get(service))
                await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {role}")
                for schema in schemas:
                    await _own_schema(conn, schema, role)
            for service in READERS:
                await conn.execute(f"GRANT {READER_ROLE} TO {role_of(service)}")
    finally:
        await conn.close()


async def _role(conn: asyncpg.Connection, role: str, *, login: bool, password: str | None) -> None:
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        await conn.execute(f"CREATE ROLE {role}")
    login_option = "LOGIN" if login else "NOLOGIN"
    await conn.execute(f"ALTER ROLE {role} {login_option} NOSUPERUSER NOCREATEDB NOCREATEROLE")
    if password:
        # The SCRAM verifier, not the password, crosses to the server (and any statement log).
        secret = scram_verifier(password) if password.isascii() else password
        literal = await conn.fetchval("SELECT quote_literal($1)", secret)
        await conn.execute(f"ALTER ROLE {role} PASSWORD {literal}")


def scram_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """PostgreSQL's SCRAM-SHA-256 verifier of an ASCII password (RFC 5802, RFC 7677), which
    `ALTER ROLE ... PASSWORD` stores as given."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def _own_schema(conn: asyncpg.Connection, schema: str, role: str) -> None:
    """Creates the schema for `role`, or hands an existing one (and its objects, from a stack
    that ran as one user) over to it."""
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)} AUTHORIZATION {role}")
    await conn.execute(f"ALTER SCHEMA {_ident(schema)} OWNER TO {role}")
    tables = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND pg_get_userbyid(c.relowner) <> $2",
        schema,
        role,
    )
    for t in tables:  # a table's identity sequences move with it
        await conn.execute(f"ALTER TABLE {_ident(schema)}.{_ident(t['relname'])} OWNER TO {role}")
    functions = await conn.fetch(
        "SELECT p.oid::regprocedure::text AS signature FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1",
        schema,
    )
    for f in functions:
        await conn.execute(f"ALTER FUNCTION {f['signature']} OWNER TO {role}")


def generate_secrets(directory: Path) -> list[Path]:
    """Writes every missing secret; returns the files written (existing ones are kept)."""
    wanted = {directory / "postgres" / "password": secrets.token_urlsafe(32)}
    for service in SCHEMAS:
        wanted[directory / service / "db-password"] = secrets.token_urlsafe(32)
    wanted[directory / "alerts" / "webhook-keys"] = (
        "k1:" + base64.b64encode(secrets.token_bytes(32)).decode()
    )
    written = []
    for path, value in wanted.items():
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(value)
        written.append(path)
    return written


def main() -> int:
    if sys.argv[1:2] == ["generate-secrets"] and len(sys.argv) == 3:
        written = generate_secrets(Path(sys.argv[2]))
        print(f"secrets: {len(written)} written, the others kept")
        return 0
    admin_url = os.environ.get("ALLIANCE_DB_ADMIN_URL") or os.environ.get("DATABASE_URL")
    if not admin_url:
        print(
            "set ALLIANCE_DB_ADMIN_URL (or DATABASE_URL) to an administrator's URL", file=sys.stderr
        )
        return 2
    if password_file := os.environ.get("ALLIANCE_DB_PASSWORD_FILE"):
        admin_url = with_login(admin_url, None, Path(password_file).read_text().strip())
    asyncio.run(bootstrap(admin_url, passwords_from_env()))
    print(f"database roles ready: {', '.join(role_of(s) for s in SCHEMAS)}, {READER_ROLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

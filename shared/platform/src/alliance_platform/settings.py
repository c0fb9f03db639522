"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import asyncpg
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from alliance_platform.dbroles import with_login
from alliance_platform.http_security import RateLimiter
from alliance_platform.kafka import DEFAULT_MESSAGE_MAX_BYTES
from alliance_platform.tokens import TokenSettings
from alliance_platform.tracking import Tracking, Waits


class CommonSettings(BaseSettings):
    """Endpoints and knobs shared by all services. Service settings subclass this."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field("postgresql://alliance@127.0.0.1:5432/alliance", alias="DATABASE_URL")
    # The database password from a file (a mounted secret) rather than inside DATABASE_URL.
    database_password_file: str | None = Field(None, alias="ALLIANCE_DB_PASSWORD_FILE")
    topic_partitions: int = Field(12, alias="ALLIANCE_TOPIC_PARTITIONS", ge=1)
    # The broker's `message.max.bytes` (its default): an outbox row larger than this is parked
    # before it is sent (docs/limits.md).
    kafka_message_max_bytes: int = Field(
        DEFAULT_MESSAGE_MAX_BYTES, alias="ALLIANCE_KAFKA_MESSAGE_MAX_BYTES", ge=1024
    )
    http_host: str = Field("127.0.0.1", alias="ALLIANCE_HTTP_HOST")
    http_port: int = Field(8000, alias="ALLIANCE_HTTP_PORT")
    log_level: str = Field("INFO", alias="ALLIANCE_LOG_LEVEL")
    db_pool_size: int = Field(10, alias="ALLIANCE_DB_POOL_SIZE", ge=1)
    # HTTP doors: request bodies above this are refused (413) before they are parsed; each
    # authenticated client (token subject) gets `rate` requests/s on average, `burst` at once
    # (429 beyond; 0 switches the limit off). Per process.
    max_body_bytes: int = Field(1_048_576, alias="ALLIANCE_MAX_BODY_BYTES", ge=1024)
    rate_limit_per_second: float = Field(100.0, alias="ALLIANCE_RATE_LIMIT_PER_SECOND", ge=0)
    rate_limit_burst: int = Field(200, alias="ALLIANCE_RATE_LIMIT_BURST", ge=1)

    # Consumers (docs/operations.md): how long a parked record may wait before it is
    # dead-lettered, how often parked records are looked at, how long processed-event ids are
    # kept (a relay's duplicate arrives well within it). A dead letter that would not fit
    # `kafka_message_max_bytes` is truncated.
    # Blue/green projections (docs/operations.md): a building generation goes live once it is
    # fewer than `switch_lag` events behind; the catalog is looked at every `watch` seconds.
    switch_lag: int = Field(100, alias="ALLIANCE_SWITCH_LAG", ge=0)
    projection_watch_seconds: float = Field(2.0, alias="ALLIANCE_PROJECTION_WATCH_SECONDS", gt=0)
    park_timeout_seconds: float = Field(86_400.0, alias="ALLIANCE_PARK_TIMEOUT_SECONDS", gt=0)
    park_check_seconds: float = Field(30.0, alias="ALLIANCE_PARK_CHECK_SECONDS", gt=0)
    dedup_retention_hours: float = Field(168.0, alias="ALLIANCE_DEDUP_RETENTION_HOURS", gt=0)
    # Prometheus presents this token to `/metrics` (a mounted secret); unset: no metrics door.
    metrics_token_file: str | None = Field(None, alias="ALLIANCE_METRICS_TOKEN_FILE")

    # Bearer tokens (every HTTP door): RS256 against a JWKS, with audience and issuer.
    jwks_file: str | None = Field(None, alias="ALLIANCE_JWKS_FILE")
    jwks_url: str | None = Field(None, alias="ALLIANCE_JWKS_URL")
    jwt_audience: str | None = Field(None, alias="ALLIANCE_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(None, alias="ALLIANCE_JWT_ISSUER")
    # Development only, and never beside a JWKS: HS256 tokens signed with this secret.
    dev_mode: bool = Field(False, alias="ALLIANCE_DEV_MODE")
    dev_jwt_secret: str | None = Field(None, alias="ALLIANCE_DEV_JWT_SECRET")

    @model_validator(mode="after")
    def _password_from_file(self) -> CommonSettings:
        if self.database_password_file:
            password = Path(self.database_password_file).read_text().strip()
            self.database_url = with_login(self.database_url, None, password)
        return self

    def tokens(self) -> TokenSettings:
        return TokenSettings(
            jwks_file=self.jwks_file,
            jwks_url=self.jwks_url,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
            dev_mode=self.dev_mode,
            dev_secret=self.dev_jwt_secret,
        )

    def tracking(
        self,
        pool: Callable[[], asyncpg.Pool],
        schema: str,
        topic: str,
        waits: Waits | None = None,
        frontier: Callable[[], str | None] = lambda: None,
        forget: Callable[[], None] = lambda: None,
    ) -> Tracking:
        """How a consumer of `topic` tracks its positions (and parks) in `schema`."""
        return Tracking(
            pool,
            schema,
            topic,
            waits,
            park_timeout=timedelta(seconds=self.park_timeout_seconds),
            check_every_s=self.park_check_seconds,
            retention=timedelta(hours=self.dedup_retention_hours),
            frontier=frontier,
            forget=forget,
        )

    def limiter(self) -> RateLimiter | None:
        if self.rate_limit_per_second == 0:
            return None
        return RateLimiter(self.rate_limit_per_second, self.rate_limit_burst)

"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from alliance_shared.tokens import TokenSettings


class CommonSettings(BaseSettings):
    """Endpoints and knobs shared by all services. Service settings subclass this."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", alias="KAFKA_BOOTSTRAP_SERVERS")
    database_url: str = Field("postgresql://alliance@127.0.0.1:5432/alliance", alias="DATABASE_URL")
    topic_partitions: int = Field(12, alias="ALLIANCE_TOPIC_PARTITIONS", ge=1)
    http_host: str = Field("127.0.0.1", alias="ALLIANCE_HTTP_HOST")
    http_port: int = Field(8000, alias="ALLIANCE_HTTP_PORT")
    log_level: str = Field("INFO", alias="ALLIANCE_LOG_LEVEL")
    db_pool_size: int = Field(10, alias="ALLIANCE_DB_POOL_SIZE", ge=1)

    # Bearer tokens (gateway; the alerts service's webhook API): RS256 against a JWKS.
    jwks_file: str | None = Field(None, alias="ALLIANCE_JWKS_FILE")
    jwks_url: str | None = Field(None, alias="ALLIANCE_JWKS_URL")
    jwt_audience: str | None = Field(None, alias="ALLIANCE_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(None, alias="ALLIANCE_JWT_ISSUER")
    # Development only: accept HS256 tokens signed with this secret (alliance_gateway.devtoken).
    dev_mode: bool = Field(False, alias="ALLIANCE_DEV_MODE")
    dev_jwt_secret: str | None = Field(None, alias="ALLIANCE_DEV_JWT_SECRET")

    def tokens(self) -> TokenSettings:
        return TokenSettings(
            jwks_file=self.jwks_file,
            jwks_url=self.jwks_url,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
            dev_mode=self.dev_mode,
            dev_secret=self.dev_jwt_secret,
        )

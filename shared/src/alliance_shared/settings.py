"""Settings every service reads from the environment (12-factor)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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

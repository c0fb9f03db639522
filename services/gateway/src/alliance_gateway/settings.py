from __future__ import annotations

from pydantic import Field

from alliance_platform.settings import CommonSettings


class GatewaySettings(CommonSettings):
    # Comma-separated origins allowed for CORS and WebSocket handshakes.
    cors_origins: str = Field("", alias="ALLIANCE_CORS_ORIGINS")
    max_query_cost: int = Field(20_000, alias="ALLIANCE_MAX_QUERY_COST", ge=1)
    # Production: accept only the registered operations, by hash (graphql/trusted.py).
    trusted_documents_only: bool = Field(False, alias="ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY")

    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

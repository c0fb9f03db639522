from __future__ import annotations

from pydantic import Field

from alliance_gateway.adapters.tokens import TokenSettings
from alliance_shared.settings import CommonSettings


class GatewaySettings(CommonSettings):
    jwks_file: str | None = Field(None, alias="ALLIANCE_JWKS_FILE")
    jwks_url: str | None = Field(None, alias="ALLIANCE_JWKS_URL")
    jwt_audience: str | None = Field(None, alias="ALLIANCE_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(None, alias="ALLIANCE_JWT_ISSUER")
    # Development only: accept HS256 tokens signed with this secret (see alliance_gateway.devtoken).
    dev_mode: bool = Field(False, alias="ALLIANCE_DEV_MODE")
    dev_jwt_secret: str | None = Field(None, alias="ALLIANCE_DEV_JWT_SECRET")
    # Comma-separated origins allowed for CORS and WebSocket handshakes.
    cors_origins: str = Field("", alias="ALLIANCE_CORS_ORIGINS")
    max_query_cost: int = Field(20_000, alias="ALLIANCE_MAX_QUERY_COST", ge=1)

    def tokens(self) -> TokenSettings:
        return TokenSettings(
            jwks_file=self.jwks_file,
            jwks_url=self.jwks_url,
            audience=self.jwt_audience,
            issuer=self.jwt_issuer,
            dev_mode=self.dev_mode,
            dev_secret=self.dev_jwt_secret,
        )

    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

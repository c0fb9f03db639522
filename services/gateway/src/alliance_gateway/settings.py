from __future__ import annotations

from pathlib import Path

from pydantic import Field

from alliance_platform.settings import CommonSettings

# Where `npm run build` in services/gateway/console writes the console (a source checkout);
# the image sets ALLIANCE_CONSOLE_DIR to where it copied the build.
CONSOLE_BUILD = Path(__file__).resolve().parents[2] / "console" / "dist"


class GatewaySettings(CommonSettings):
    # Comma-separated origins allowed for CORS and WebSocket handshakes.
    cors_origins: str = Field("", alias="ALLIANCE_CORS_ORIGINS")
    max_query_cost: int = Field(20_000, alias="ALLIANCE_MAX_QUERY_COST", ge=1)
    # Production: accept only the registered operations, by hash (graphql/trusted.py).
    trusted_documents_only: bool = Field(False, alias="ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY")
    # The clinician console (docs/console.md): its built files, and the OpenID Connect issuer
    # it signs in with (none: the console says sign-in is not configured).
    console_dir: Path = Field(CONSOLE_BUILD, alias="ALLIANCE_CONSOLE_DIR")
    console_oidc_issuer: str = Field("", alias="ALLIANCE_CONSOLE_OIDC_ISSUER")
    console_oidc_client_id: str = Field("", alias="ALLIANCE_CONSOLE_OIDC_CLIENT_ID")
    console_oidc_scope: str = Field("openid", alias="ALLIANCE_CONSOLE_OIDC_SCOPE")

    def origins(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

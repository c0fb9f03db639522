"""The webhook API: clinic admins register their clinic's endpoint, rotate its secret and read
the delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints

from alliance_alerts.adapters.delivery_store import delivery_log
from alliance_alerts.adapters.secret_box import SecretBox
from alliance_alerts.adapters.unit_of_work import PostgresDeliveryUnitOfWork
from alliance_alerts.application.delivery import rotate_secret, set_endpoint
from alliance_alerts.domain.webhooks import EndpointRefused, RotationInProgress
from alliance_alerts.entrypoints.loops import Clock
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.access import Caller, Principal
from alliance_contracts.ids import PSEUDONYMOUS_ID_PATTERN
from alliance_platform.http_security import ERRORS, error_body, principal, unavailable
from alliance_platform.runtime import Runtime

ClinicPath = Annotated[str, Path(pattern=PSEUDONYMOUS_ID_PATTERN, max_length=64)]


class WebhookSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2048)] = Field(
        description="https, on a host that resolves to public addresses only (unless the "
        "operator allows its network: ALLIANCE_WEBHOOK_ALLOW_NETWORKS)."
    )
    active: bool = True


class WebhookRegistered(BaseModel):
    url: str
    active: bool
    secret: str | None = Field(
        description="The signing secret (`whsec_...`), shown once: when the endpoint is created."
    )


class SecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret (`whsec_...`), shown once.")
    previous_valid_until: datetime = Field(
        description="Until then deliveries are signed with both secrets."
    )


def webhook_router(settings: AlertsSettings, runtime: Runtime, clock: Clock) -> APIRouter:
    """Clinic admins manage their clinic's webhook (a person's bearer token, checked by the
    service's door; see `projection_service_app`)."""
    router = APIRouter(prefix="/v1/clinics/{clinic_id}", tags=["webhooks"], responses=ERRORS)
    box = settings.secret_box()

    def clinic_admin(caller: Principal, clinic_id: str) -> SecretBox:
        if not (isinstance(caller, Caller) and caller.may_read_audit(clinic_id)):
            detail = error_body(
                ["path", "clinic_id"], "clinic admins of this clinic only", "forbidden"
            )
            raise HTTPException(403, detail["detail"])
        if box is None:
            status, body, headers = unavailable("webhook secret encryption (ALLIANCE_WEBHOOK_KEYS)")
            raise HTTPException(status, body["detail"], headers)
        return box

    @router.put("/webhook", response_model=WebhookRegistered)
    async def put_webhook(
        caller: Annotated[Principal, Depends(principal)],
        clinic_id: ClinicPath,
        hook: WebhookSettings,
    ) -> WebhookRegistered:
        """The clinic's webhook: every live notice is POSTed to it, signed as the Standard
        Webhooks specification has it (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
        The secret is returned once, when the endpoint is created; rotate it with
        `POST .../webhook/secret`."""
        sealer = clinic_admin(caller, clinic_id)
        url = str(hook.url)
        try:
            secret = await set_endpoint(
                PostgresDeliveryUnitOfWork(runtime.require()[0]),
                sealer,
                clinic_id,
                url,
                hook.active,
                settings.delivery_policy(),
            )
        except EndpointRefused as refused:
            raise HTTPException(
                422, error_body(["body", "url"], str(refused), "value_error")["detail"]
            ) from refused
        return WebhookRegistered(url=url, active=hook.active, secret=secret)

    @router.post(
        "/webhook/secret",
        response_model=SecretRotated,
        responses={
            404: {"description": "The clinic has no webhook."},
            409: {"description": "The previous rotation's changeover is not over yet."},
        },
    )
    async def rotate_webhook_secret(
        caller: Annotated[Principal, Depends(principal)], clinic_id: ClinicPath
    ) -> SecretRotated:
        """A new signing secret. The previous one stays valid for the changeover
        (ALLIANCE_WEBHOOK_ROTATION_OVERLAP_H, 24 h by default): deliveries carry both
        signatures meanwhile."""
        sealer = clinic_admin(caller, clinic_id)
        try:
            rotated = await rotate_secret(
                PostgresDeliveryUnitOfWork(runtime.require()[0]),
                sealer,
                clinic_id,
                clock(),
                settings.delivery_policy(),
            )
        except RotationInProgress as busy:
            raise HTTPException(
                409, f"a rotation is in progress: the previous secret is valid until {busy.until}"
            ) from busy
        if rotated is None:
            raise HTTPException(404, "the clinic has no webhook")
        return SecretRotated(secret=rotated[0], previous_valid_until=rotated[1])

    @router.get("/deliveries")
    async def get_deliveries(
        caller: Annotated[Principal, Depends(principal)], clinic_id: ClinicPath
    ) -> list[dict[str, Any]]:
        """The delivery log: each notice sent to the clinic's webhook, with every attempt."""
        clinic_admin(caller, clinic_id)
        return await delivery_log(runtime.require()[0], clinic_id)

    return router

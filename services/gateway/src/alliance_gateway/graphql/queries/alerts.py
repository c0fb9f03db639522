"""A clinic's alerts, page by page."""

from __future__ import annotations

import strawberry

from alliance_contracts.vocabulary import AlertStatus
from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.pagination import ALERTS, check_page
from alliance_gateway.graphql.types.alerts import AlertConnection


@strawberry.type
class AlertQuery:
    @strawberry.field(description="The clinic's alerts, newest first.")
    async def alerts(
        self,
        info: strawberry.Info[Request, None],
        clinic_id: strawberry.ID,
        status: AlertStatus | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> AlertConnection:
        check_page(first)
        page = await reads.alert_page(
            info.context, str(clinic_id), status, first, ALERTS.after(after)
        )
        return AlertConnection.of_alerts(page)

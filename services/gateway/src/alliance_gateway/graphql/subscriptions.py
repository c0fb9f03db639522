"""The subscription: live alert notices within the caller's scope."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from alliance_gateway.application import reads
from alliance_gateway.application.request import Request
from alliance_gateway.graphql.types.alerts import AlertNoticeEvent


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Alerts raised or changed within the caller's scope, as they happen "
        "(graphql-transport-ws; send the token in connection_init: "
        '{"authorization": "Bearer <JWT>"}).'
    )
    async def alert_notices(
        self, info: strawberry.Info[Request, None], clinic_id: strawberry.ID | None = None
    ) -> AsyncGenerator[AlertNoticeEvent, None]:
        clinic = str(clinic_id) if clinic_id is not None else None
        # Closed with the subscription, so that it stops listening at once.
        async with contextlib.aclosing(reads.alert_notices(info.context, clinic)) as notices:
            async for notice in notices:
                yield AlertNoticeEvent.from_notice(notice)

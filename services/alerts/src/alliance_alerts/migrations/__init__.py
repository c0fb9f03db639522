"""Alerts' schema of record, `alerts_delivery` (webhook endpoints, deliveries, attempts), under
Alembic: its revisions are in `versions/`. The `alerts` projection has none: it is rebuilt from
the log (docs/operations.md, Schema migrations)."""

from alliance_alerts.adapters.delivery_tables import DELIVERY_SCHEMA, metadata
from alliance_platform.migrate import MigrationEnvironment

ENVIRONMENT = MigrationEnvironment(
    service="alerts",
    schema=DELIVERY_SCHEMA,
    metadata=metadata,
    script_location="alliance_alerts:migrations",
)

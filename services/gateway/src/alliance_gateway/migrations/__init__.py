"""The gateway's schema of record (read audit, commands, outbox) under Alembic: its revisions
are in `versions/` (docs/operations.md, Schema migrations)."""

from alliance_gateway.adapters.tables import SCHEMA, metadata
from alliance_platform.migrate import MigrationEnvironment

ENVIRONMENT = MigrationEnvironment(
    service="gateway",
    schema=SCHEMA,
    metadata=metadata,
    script_location="alliance_gateway:migrations",
)

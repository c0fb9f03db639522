"""Intake's schema of record under Alembic: its revisions are in `versions/`
(docs/operations.md, Schema migrations)."""

from alliance_intake.adapters.tables import SCHEMA, metadata
from alliance_platform.migrate import MigrationEnvironment

ENVIRONMENT = MigrationEnvironment(
    service="intake",
    schema=SCHEMA,
    metadata=metadata,
    script_location="alliance_intake:migrations",
)

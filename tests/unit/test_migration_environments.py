"""The migration environments without a database: which schemas have one, where their revisions
are, and as whom they run."""

from __future__ import annotations

from alliance_alerts.adapters.tables import SCHEMA as ALERTS_PROJECTION
from alliance_platform.migrate import code_head, installed_environments, owner_url
from alliance_scoring.adapters.tables import SCHEMA as SCORING_PROJECTION

ADMIN_URL = "postgresql://alliance:admin-secret@db.internal:5432/alliance"


def test_each_schema_of_record_has_one_environment_and_no_projection_has_one() -> None:
    envs = installed_environments()
    assert sorted(env.schema for env in envs) == ["alerts_delivery", "gateway", "intake"]
    assert not {SCORING_PROJECTION, ALERTS_PROJECTION} & {env.schema for env in envs}
    for env in envs:
        # Its models are its own schema's only, and its revisions have one head.
        assert {t.schema for t in env.metadata.tables.values()} == {env.schema}
        assert code_head(env)


def test_migrations_run_as_the_schema_owner_never_as_the_administrator() -> None:
    intake = next(env for env in installed_environments() if env.service == "intake")
    url = owner_url(intake, ADMIN_URL, {"intake": "intake-secret"})
    assert url == "postgresql://alliance_intake:intake-secret@db.internal:5432/alliance"
    # A URL that logs in as the owner already (compose's migrate jobs) is kept as it is.
    own = "postgresql://alliance_intake:from-file@db.internal:5432/alliance"
    assert owner_url(intake, own, {"intake": "other"}) == own

"""Each consumer keeps its own copy of the clinics' configuration versions (from the config
topic) and picks, per event, the version in force (see clinical_config.in_force)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from alliance_contracts.clinical_config import (
    DEFAULT_CONFIG,
    ClinicalConfig,
    ConfigVersion,
    in_force,
)
from alliance_contracts.events import ClinicConfigured
from alliance_platform.consumer import RetryLater
from alliance_platform.outbox import Connection

# (clinic id, stamped version, time) -> the configuration in force for an event.
Resolve = Callable[[str, int, datetime], ClinicalConfig]


class ConfigurationNotYetKnown(RetryLater):
    """An event names a configuration version the config topic has not delivered yet (a
    tracked consumer parks such events first: `ConfigurationStamps`)."""


class ConfigurationStamps:
    """What a consumer's events wait for (`tracking.Waits`): the configuration version they
    are stamped with (`config_version`), as `config:<clinic>:<version>`."""

    def needs(self, event: Any) -> str | None:
        version = getattr(event, "config_version", 0)
        return f"config:{event.clinic_id}:{version}" if version > 0 else None

    async def missing(self, conn: Connection, schema: str, needs: set[str]) -> set[str]:
        wanted = {need: need.removeprefix("config:").rsplit(":", 1) for need in needs}
        if not wanted:
            return set()
        rows = await conn.fetch(
            f"SELECT clinic_id, max(version) AS known FROM {schema}.clinic_config "
            "WHERE clinic_id = ANY($1::text[]) GROUP BY clinic_id",
            list({clinic for clinic, _ in wanted.values()}),
        )
        known = {r["clinic_id"]: r["known"] for r in rows}
        # As the resolver: a version is there once the clinic's latest is at least it.
        return {
            need
            for need, (clinic, version) in wanted.items()
            if known.get(clinic, 0) < int(version)
        }


def clinic_config_table(metadata: MetaData, *extra: Column[Any]) -> Table:
    """The clinics' configuration versions, in the metadata's schema (`extra`: columns only
    one service keeps, e.g. intake's event id)."""
    return Table(
        "clinic_config",
        metadata,
        Column("clinic_id", Text, primary_key=True),
        Column("version", Integer, primary_key=True),
        Column("effective_from", DateTime(timezone=True), nullable=False),
        Column("configuration", JSONB, nullable=False),
        *extra,
    )


async def save_configurations(
    conn: Connection, schema: str, events: Sequence[ClinicConfigured]
) -> None:
    await conn.executemany(
        f"INSERT INTO {schema}.clinic_config (clinic_id, version, effective_from, configuration) "
        "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING",
        [
            (e.clinic_id, e.payload.version, e.payload.effective_from,
             json.dumps(e.payload.configuration))
            for e in events
        ],
    )  # fmt: skip


async def load_configurations(
    conn: Connection, schema: str, clinic_ids: Iterable[str]
) -> dict[str, list[ConfigVersion]]:
    rows = await conn.fetch(
        f"SELECT clinic_id, version, effective_from, configuration FROM {schema}.clinic_config "
        "WHERE clinic_id = ANY($1::text[]) ORDER BY clinic_id, version",
        list(clinic_ids),
    )
    versions: dict[str, list[ConfigVersion]] = {}
    for r in rows:
        config = ClinicalConfig.model_validate_json(r["configuration"])
        versions.setdefault(r["clinic_id"], []).append(
            ConfigVersion(r["version"], r["effective_from"], config)
        )
    return versions


async def configuration_resolver(
    conn: Connection, schema: str, stamps: Iterable[tuple[str, int]]
) -> Resolve:
    """Loads the versions a batch needs, given its (clinic, stamped version) pairs. Raises
    ConfigurationNotYetKnown (the batch is retried later) when one has not arrived yet."""
    stamped = latest_stamps(stamps)
    versions = await load_configurations(conn, schema, list(stamped)) if stamped else {}
    return resolver(stamped, versions)


def latest_stamps(stamps: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Per clinic, the highest version stamped on a batch's events (0, the defaults, left out)."""
    stamped: dict[str, int] = {}
    for clinic, version in stamps:
        stamped[clinic] = max(stamped.get(clinic, 0), version)
    return {clinic: version for clinic, version in stamped.items() if version > 0}


def resolver(stamped: dict[str, int], versions: dict[str, list[ConfigVersion]]) -> Resolve:
    """Picks the version in force from the loaded ones, once every stamped one is known."""
    for clinic, version in stamped.items():
        known = max((v.version for v in versions.get(clinic, [])), default=0)
        if known < version:
            raise ConfigurationNotYetKnown(f"{clinic}: version {version}, known {known}")

    def resolve(clinic_id: str, version: int, at: datetime) -> ClinicalConfig:
        if version == 0:
            return DEFAULT_CONFIG
        return in_force(versions.get(clinic_id, []), version, at)

    return resolve

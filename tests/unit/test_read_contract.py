"""The gateway reads nothing outside the read-model contract: every statement its adapters can
build names only tables and columns that `alliance_contracts.readmodels` declares. And the
contract's JSON shapes read what the owners write."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Column, MetaData, Table, Text, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlmodel import SQLModel

from alliance_contracts import readmodels
from alliance_contracts.access import Caller, Role
from alliance_contracts.readmodels import CaseView, DyadScore, documents, table_of
from alliance_contracts.readmodels.tables import Document
from alliance_gateway.adapters import hot_queries, queries

T0 = datetime(2026, 10, 1, tzinfo=UTC)


def contract() -> dict[str, set[str]]:
    """`schema.table` to its declared columns, for every table of the contract."""
    declared: dict[str, set[str]] = {}
    for name in readmodels.__all__:
        model = getattr(readmodels, name)
        if isinstance(model, type) and issubclass(model, SQLModel) and hasattr(model, "__table__"):
            table = table_of(model)
            declared[table.fullname] = {c.name for c in table.columns}
    return declared


_QUOTED = re.compile(r"'[^']*'")
_QUALIFIED = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)(?:\.([a-z_][a-z0-9_]*))?")


def qualified_names(statement: ClauseElement) -> list[str]:
    """Every `schema.table` and `schema.table.column` the statement's SQL names (outside its
    string literals)."""
    sql = str(statement.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    return [".".join(p for p in m if p) for m in _QUALIFIED.findall(_QUOTED.sub("''", sql))]


_ALIAS = re.compile(r"\b([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*) AS ([a-z_][a-z0-9_]*)")


def outside_contract(statement: ClauseElement) -> list[str]:
    """The names in the statement's SQL that the contract does not declare (a column of an
    alias, `alias.column`, is checked against the table it aliases)."""
    declared = contract()
    sql = str(statement.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    aliases = dict((alias, table) for table, alias in _ALIAS.findall(_QUOTED.sub("''", sql)))
    wrong = []
    for name in qualified_names(statement):
        first, *rest = name.split(".")
        if first in aliases and len(rest) == 1:
            name = f"{aliases[first]}.{rest[0]}"
        schema, table, *column = name.split(".")
        columns = declared.get(f"{schema}.{table}")
        if columns is None or (column and column[0] not in columns):
            wrong.append(name)
    return wrong


class _NoRows:
    def scalars(self) -> _NoRows:
        return self

    def all(self) -> list[Any]:
        return []

    def first(self) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        return iter(())


class Capture:
    """A session that keeps the statements it is given and finds no rows."""

    def __init__(self) -> None:
        self.statements: list[ClauseElement] = []

    async def execute(self, statement: ClauseElement, params: object = None) -> _NoRows:
        self.statements.append(statement)
        return _NoRows()


CLINICIAN = Caller("th-1", Role.CLINICIAN, frozenset({"c1"}))
SUPERVISOR = Caller("sv-1", Role.SUPERVISOR, frozenset({"c1", "c2"}))


async def every_statement() -> tuple[list[ClauseElement], set[str]]:
    """Every query of the gateway's adapters, with each branch of its arguments, for a caller
    scoped to a caseload and one scoped to clinics."""
    capture = Capture()
    session = cast(AsyncSession, capture)
    called: set[str] = set()
    ids = [uuid.uuid4(), uuid.uuid4()]
    for caller in (CLINICIAN, SUPERVISOR):
        calls = {
            "case_view": queries.case_view(session, caller, "c1", "k1"),
            "dyad_timelines": queries.dyad_timelines(session, caller, ids),
            "case_signals": queries.case_signals(session, caller, "c1", "k1", None, 5),
            "alert_by_id": queries.alert_by_id(session, caller, ids[0]),
            "alert_histories": queries.alert_histories(session, caller, ids),
            "therapist_alerts": queries.therapist_alerts(session, caller, "c1", "th-1", T0, T0),
            "known_clinics": queries.known_clinics(session),
            "clinic_summary": queries.clinic_summary(session, "c1", T0, T0),
            "dyads_of_cases": queries.dyads_of_cases(session, caller, [("c1", "k1")]),
            "active_alerts_of_cases": queries.active_alerts_of_cases(
                session, caller, [("c1", "k1"), ("c2", "k1")]
            ),
            "scores_of_cases": queries.scores_of_cases(session, caller),
        }
        for name, call in calls.items():
            await call
            called.add(name)
        for timelines in (False, True):
            await hot_queries.case_with_dyads(session, caller, "c1", "k1", timelines)
        called.add("case_with_dyads")
        await queries.case_signals(session, caller, "c1", "k1", ["rupture_opened"], 5)
        for status in (None, "open"):
            for after in (None, (T0, ids[0])):
                await hot_queries.clinic_alerts(session, caller, "c1", status, 5, after)
        called.add("clinic_alerts")
        for phase in (None, "foundation"):
            for therapist in (None, "th-2"):
                for page_after in (None, "k0"):
                    for alert_kind in (None, "rupture"):
                        await queries.clinic_cases(
                            session, caller, "c1", phase, therapist, 5, page_after, alert_kind
                        )
        called.add("clinic_cases")
        await queries.scores_of_cases(
            session, caller, case_id="k1", instruments=["SRS"], since=T0, before=T0,
            score_id=ids[0], first=5, after=(T0, ids[1]),
        )  # fmt: skip
    return capture.statements, called


async def test_the_gateway_reads_only_tables_and_columns_the_contract_declares() -> None:
    statements, called = await every_statement()
    # Every query function of the adapter is exercised (a new one must be added above).
    functions = {
        name
        for module in (queries, hot_queries)
        for name, f in inspect.getmembers(module, inspect.iscoroutinefunction)
        if f.__module__ == module.__name__
    }
    assert called == functions
    assert len(statements) > 40
    for statement in statements:
        assert outside_contract(statement) == [], str(statement)
    # The check sees what the gateway names: caseload scoping, histories, literal JSON paths.
    seen = {name for statement in statements for name in qualified_names(statement)}
    assert {
        "alerts.assignment.therapist_id",
        "alerts.alert_transition.seq",
        "scoring.case_view.episode",
        "scoring.dyad.latest",
    } <= seen


@pytest.mark.parametrize(
    ("statement", "wrong"),
    [
        # The alerts aggregate's private serialization: not in the contract.
        (
            select(Table("alert", MetaData(schema="alerts"), Column("state", Text)).c.state),
            ["alerts.alert.state"],
        ),
        # A private table of alerts, as the gateway once declared its own copy.
        (
            select(Table("staff", MetaData(schema="alerts"), Column("staff_id", Text))),
            ["alerts.staff.staff_id", "alerts.staff"],
        ),
        # A misspelt column inside literal SQL.
        (
            select(literal_column("scoring.case_view.episod->>'ending'")).select_from(
                table_of(CaseView)
            ),
            ["scoring.case_view.episod"],
        ),
        # An alias's column is checked against the table it aliases.
        (
            select(literal_column("replaced.answers")).select_from(
                table_of(DyadScore).alias("replaced")
            ),
            ["scoring.dyad_score.answers"],
        ),
    ],
)
def test_a_name_outside_the_contract_is_found(statement: ClauseElement, wrong: list[str]) -> None:
    assert outside_contract(statement) == wrong


def test_every_json_column_of_the_contract_has_a_shape() -> None:
    for table in (table_of(getattr(readmodels, n)) for n in contract_models()):
        for column in table.columns:
            if column.type.__class__.__name__ in {"JSON", "JSONB"}:
                pytest.fail(f"{table.fullname}.{column.name}: an untyped JSON column")


def contract_models() -> list[str]:
    return [
        n
        for n in readmodels.__all__
        if isinstance(getattr(readmodels, n), type) and issubclass(getattr(readmodels, n), SQLModel)
    ]


def test_shapes_read_rows_written_before_them_and_ignore_what_they_do_not_declare() -> None:
    """A row an older writer stored (scoring's full state of an outcome) still reads."""
    stored = {
        "instrument": "ORS",
        "respondent_role": "client",
        "respondent_id": None,
        "baseline": {
            "session_number": 1,
            "administered_at": "2026-10-01T00:00:00Z",
            "total": 18.0,
            "normalized": 0.45,
            "subscales": {},
            "source_event_id": str(uuid.uuid4()),
        },
        "latest": {"session_number": 2, "administered_at": "2026-10-08T00:00:00Z", "total": 26},
        "cutoff": 25.0,
        "reliable_change": 5.0,
        "higher_is_better": True,
        "improvement": 8.0,
        "outcome_class": "recovered",
        "tolerance": None,
    }
    [outcome] = Document(documents.Outcomes).process_result_value(
        [stored],
        postgresql.dialect(),  # type: ignore[no-untyped-call]
    )
    assert (outcome.baseline.total, outcome.latest.total) == (18.0, 26.0)
    assert outcome.recovered_streak == 0
    assert "tolerance" not in documents.dump_json(documents.Outcome, stored)

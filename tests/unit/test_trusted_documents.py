"""Trusted documents without a database: the registry holds the bench's and the console's
operations under their hashes, and the refusals come before anything runs (subscriptions
included)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from graphql import ExecutionResult

from alliance_gateway.graphql.schema import build_schema
from alliance_gateway.graphql.trusted import ONLY_TRUSTED, UNKNOWN, sha256

BENCH = Path(__file__).parents[2] / "bench" / "queries"
CONSOLE = Path(__file__).parents[2] / "services" / "gateway" / "console" / "src" / "operations"


def test_the_registry_holds_the_bench_operations_under_their_hashes() -> None:
    manifest = json.loads(
        resources.files("alliance_gateway.graphql").joinpath("trusted_documents.json").read_text()
    )
    bodies = {op["id"]: op["body"] for op in manifest["operations"]}
    assert all(sha256(body) == key for key, body in bodies.items())
    for name in ("case", "alerts"):
        text = (BENCH / f"{name}.graphql").read_text()
        assert bodies[sha256(text)] == text


def test_the_registry_holds_exactly_the_console_operations() -> None:
    """The console sends each operation by the hash of its file (tools/contracts.py writes
    them): one missing here would be refused by a trusted-documents-only gateway."""
    manifest = json.loads(
        resources.files("alliance_gateway.graphql").joinpath("trusted_documents.json").read_text()
    )
    registered = {op["id"]: op["body"] for op in manifest["operations"] if op.get("client")}
    files = {sha256(path.read_text()): path.read_text() for path in CONSOLE.glob("*.graphql")}
    assert len(files) >= 10
    assert registered == files


async def test_refusals_come_before_anything_runs() -> None:
    schema = build_schema(trusted_only=True)
    unknown = await schema.execute(
        None, operation_extensions={"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    )
    assert unknown.data is None
    assert [e.message for e in unknown.errors or []] == [UNKNOWN]
    text = await schema.execute("query Mine { __typename }")
    assert [e.message for e in text.errors or []] == [ONLY_TRUSTED]
    subscription = await schema.subscribe("subscription { alertNotices { alertId } }")
    assert not isinstance(subscription, ExecutionResult)
    first = await anext(subscription)
    assert first.data is None
    assert [e.message for e in first.errors or []] == [ONLY_TRUSTED]
    # Without the production setting, a document sent as text runs.
    assert (await build_schema().execute("query Mine { __typename }")).data == {
        "__typename": "Query"
    }

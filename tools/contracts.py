"""Generates the committed contracts, or checks that they match the code (`--check`, in CI).

- docs/asyncapi/<service>.json: AsyncAPI 3.0 from each service's FastStream declarations;
- services/gateway/schema.graphql: the GraphQL SDL from the Strawberry schema;
- the console's operations (services/gateway/console/src/operations/*.graphql) in the gateway's
  trusted documents (graphql/trusted_documents.json), each checked against the schema first.

    uv run python tools/contracts.py          # regenerate
    uv run python tools/contracts.py --check  # exit 1 and show a diff when out of date
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

# The documents name the broker as docker-compose.yml does, whatever this shell points at.
os.environ["KAFKA_BOOTSTRAP_SERVERS"] = "kafka:9092"

from faststream import FastStream
from graphql import OperationDefinitionNode, parse, validate

from alliance_alerts.entrypoints.app import asyncapi as alerts_asyncapi
from alliance_gateway.entrypoints.asyncapi import asyncapi as gateway_asyncapi
from alliance_gateway.graphql.schema import schema as gateway_schema
from alliance_gateway.graphql.trusted import sha256
from alliance_intake.entrypoints.asyncapi import asyncapi as intake_asyncapi
from alliance_scoring.entrypoints.app import asyncapi as scoring_asyncapi

REPO = Path(__file__).resolve().parents[1]
CONSOLE_OPERATIONS = REPO / "services" / "gateway" / "console" / "src" / "operations"
GATEWAY_GRAPHQL = REPO / "services" / "gateway" / "src" / "alliance_gateway" / "graphql"
TRUSTED_DOCUMENTS = GATEWAY_GRAPHQL / "trusted_documents.json"
ASYNCAPI: dict[str, Callable[[], FastStream]] = {
    "intake": intake_asyncapi,
    "scoring": scoring_asyncapi,
    "alerts": alerts_asyncapi,
    "gateway": gateway_asyncapi,
}


def render_asyncapi(factory: Callable[[], FastStream]) -> str:
    app = factory()
    assert app.schema is not None
    document = app.schema.to_specification().to_jsonable()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def console_operation(path: Path) -> dict[str, str]:
    """One trusted document: the file's exact text (the console sends its SHA-256)."""
    text = path.read_text()
    document = parse(text)
    errors = validate(gateway_schema._schema, document)
    if errors:
        raise SystemExit(f"{path.relative_to(REPO)} does not fit the schema: {errors[0].message}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise SystemExit(f"{path.relative_to(REPO)}: one operation per file")
    operation = operations[0]
    assert operation.name is not None
    return {
        "id": sha256(text),
        "name": operation.name.value,
        "type": operation.operation.value,
        "body": text,
        "client": "console",
    }


def trusted_documents() -> str:
    """The registry: its other clients' documents as they are, the console's from its files."""
    manifest = json.loads(TRUSTED_DOCUMENTS.read_text())
    others = [op for op in manifest["operations"] if op.get("client") != "console"]
    console = [console_operation(p) for p in sorted(CONSOLE_OPERATIONS.glob("*.graphql"))]
    manifest["operations"] = others + console
    return json.dumps(manifest, indent=2) + "\n"


def contracts() -> dict[Path, str]:
    out = {
        REPO / "docs" / "asyncapi" / f"{name}.json": render_asyncapi(factory)
        for name, factory in ASYNCAPI.items()
    }
    out[REPO / "services" / "gateway" / "schema.graphql"] = gateway_schema.as_str() + "\n"
    out[TRUSTED_DOCUMENTS] = trusted_documents()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = 0
    for path, text in contracts().items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    str(path.relative_to(REPO)),
                    "generated from the code",
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print(
            f"\n{stale} contract(s) differ from the code: run `uv run python tools/contracts.py` "
            "and commit the result."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generates the committed contracts, or checks that they match the code (`--check`, in CI).

- docs/asyncapi/<service>.json: AsyncAPI 3.0 from each service's FastStream declarations;
- services/gateway/schema.graphql: the GraphQL SDL from the Strawberry schema.

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

from alliance_alerts.entrypoints.app import asyncapi as alerts_asyncapi
from alliance_gateway.entrypoints.asyncapi import asyncapi as gateway_asyncapi
from alliance_gateway.graphql.schema import schema as gateway_schema
from alliance_intake.entrypoints.asyncapi import asyncapi as intake_asyncapi
from alliance_scoring.entrypoints.app import asyncapi as scoring_asyncapi

REPO = Path(__file__).resolve().parents[1]
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


def contracts() -> dict[Path, str]:
    out = {
        REPO / "docs" / "asyncapi" / f"{name}.json": render_asyncapi(factory)
        for name, factory in ASYNCAPI.items()
    }
    out[REPO / "services" / "gateway" / "schema.graphql"] = gateway_schema.as_str() + "\n"
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

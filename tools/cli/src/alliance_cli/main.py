"""`alliance`: the operator's command line (Typer + Rich).

Every command takes `--json` (one JSON document on stdout, for scripts) and exits 3 with a
one-line reason when Kafka or PostgreSQL cannot be reached, 1 when the request is refused.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

from alliance_cli import dlq, render
from alliance_cli.engines import Engines, Unreachable
from alliance_cli.options import AsJson, DatabaseUrl, Kafka, console, errors
from alliance_cli.rebuild import RebuildProgress, start_rebuild, watch
from alliance_cli.status import gather
from alliance_cli.verify import verify as verify_projection
from alliance_platform import projections
from alliance_platform.projections import CatalogError

T = TypeVar("T")
app = typer.Typer(
    name="alliance",
    help="Operate Alliance: status, blue/green rebuilds, the dead-letter topic.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(dlq.app, name="dlq")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coroutine)
    except Unreachable as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(3) from None
    except CatalogError as exc:
        errors.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(1) from None


def _engines(database_url: str | None, kafka: str | None) -> Engines:
    try:
        return Engines.from_env(database_url, kafka)
    except Unreachable as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(3) from None


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


@app.command()
def status(database_url: DatabaseUrl = None, kafka: Kafka = None, as_json: AsJson = False) -> None:
    """Projections and their generations with lag per partition, outboxes, parked records and
    dead letters."""
    found = _run(gather(_engines(database_url, kafka)))
    if as_json:
        _print_json(found.as_json())
    else:
        render.status(console, found)


@app.command()
def rebuild(
    projection: Annotated[str, typer.Argument(help="scoring or alerts")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow the build until the switch, with progress.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Give up waiting after this many seconds.")] = 3600,
    database_url: DatabaseUrl = None,
    kafka: Kafka = None,
    as_json: AsJson = False,
) -> None:
    """Build the projection again from the log, beside the live one (blue/green). The services
    build it; they switch readers to it once it has caught up."""
    engines = _engines(database_url, kafka)
    generation = _run(start_rebuild(engines, projection))
    if not wait:
        if as_json:
            _print_json({"projection": projection, "generation": generation.number})
        else:
            console.print(
                f"{projection}: generation {generation.number} is building in slot "
                f"{generation.slot}; `alliance status` follows it"
            )
        return
    final = _run(watch(engines, generation, timeout, None if as_json else render.progress(console)))
    if as_json:
        _print_json(final.as_json())
    elif final.switched:
        console.print(
            f"{projection}: generation {generation.number} is live "
            f"({final.consumed} events in {final.elapsed:.0f} s, {final.rate:.0f} events/s)"
        )
    if not final.switched:
        errors.print(f"{projection}: generation {generation.number} has not switched: {final}")
        raise typer.Exit(1)


@app.command()
def verify(
    projection: Annotated[str, typer.Argument(help="scoring or alerts")],
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 600,
    clinic: Annotated[
        str | None, typer.Option(help="Compare this clinic's rows only.", show_default=False)
    ] = None,
    database_url: DatabaseUrl = None,
    kafka: Kafka = None,
    as_json: AsJson = False,
) -> None:
    """Build a throwaway copy from the log and compare it with the live projection, case by
    case. Exits 1 when they differ."""
    engines = _engines(database_url, kafka)
    result = _run(verify_projection(engines, projection, timeout, clinic))
    if as_json:
        _print_json(result.as_json())
    else:
        render.verification(console, result)
    if not result.equal:
        raise typer.Exit(1)


@app.command()
def cancel(
    projection: Annotated[str, typer.Argument(help="scoring or alerts")],
    generation: Annotated[int, typer.Argument(help="the building or verifying generation")],
    database_url: DatabaseUrl = None,
    kafka: Kafka = None,
    as_json: AsJson = False,
) -> None:
    """Give up a build: the services stop it and its slot is emptied."""
    engines = _engines(database_url, kafka)

    async def run() -> None:
        async with engines.database() as conn:
            await projections.cancel(conn, projection, generation)

    _run(run())
    if as_json:
        _print_json({"projection": projection, "generation": generation, "cancelled": True})
    else:
        console.print(f"{projection}: generation {generation} cancelled")


def main() -> None:
    app()


__all__ = ["RebuildProgress", "app", "main"]

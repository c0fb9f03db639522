"""`alliance dlq`: look into the dead-letter topic and put records back on their source topic
(the library is `alliance_platform.dead_letters`)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from alliance_cli.engines import KAFKA_ERRORS, Unreachable, kafka_servers
from alliance_cli.options import AsJson, Kafka, console, errors
from alliance_platform.dead_letters import (
    DeadLetter,
    Redrive,
    RedriveRefused,
    list_dead_letters,
    read_dead_letter,
    redrive,
)

app = typer.Typer(help="The dead-letter topic: list, show, redrive.", no_args_is_help=True)

Pointer = Annotated[
    str, typer.Argument(help="The dead letter as <partition>/<offset> (from `alliance dlq list`).")
]


def _servers(kafka: str | None) -> str:
    try:
        return kafka_servers(kafka)
    except Unreachable as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(3) from None


def _kafka(servers: str, coroutine: Any) -> Any:
    try:
        return asyncio.run(coroutine)
    except KAFKA_ERRORS as exc:
        errors.print(f"[red]error:[/red] cannot reach Kafka at {servers}: {type(exc).__name__}")
        raise typer.Exit(3) from None


def _pointer(pointer: str) -> tuple[int, int]:
    partition, _, offset = pointer.partition("/")
    if not (partition.isdigit() and offset.isdigit()):
        errors.print(f"[red]error:[/red] {pointer!r} is not <partition>/<offset>")
        raise typer.Exit(2)
    return int(partition), int(offset)


def _summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "pointer": letter.pointer,
        "service": letter.service,
        "reason": letter.reason,
        "source": letter.header("dlq_source"),
        "event_type": letter.header("event_type") or None,
        "key": (letter.key or b"").decode(errors="replace"),
        "bytes": len(letter.value),
        "truncated": letter.truncated,
    }


@app.command("list")
def list_(
    service: Annotated[str | None, typer.Option(help="Only this service's dead letters.")] = None,
    kafka: Kafka = None,
    as_json: AsJson = False,
) -> None:
    """Every dead letter: where it came from, which service gave up on it and why."""
    servers = _servers(kafka)
    letters = [
        _summary(letter)
        for letter in _kafka(servers, list_dead_letters(servers))
        if service is None or letter.service == service
    ]
    if as_json:
        sys.stdout.write(json.dumps(letters, indent=2) + "\n")
        return
    table = Table(title=f"Dead letters ({len(letters)})", title_justify="left")
    for column in ("pointer", "service", "source", "event type", "bytes", "reason"):
        table.add_column(column, overflow="fold")
    for row in letters:
        size = f"{row['bytes']}{' (truncated)' if row['truncated'] else ''}"
        table.add_row(
            row["pointer"],
            row["service"],
            row["source"],
            row["event_type"] or "-",
            size,
            row["reason"],
        )
    console.print(table)


@app.command()
def show(pointer: Pointer, kafka: Kafka = None, as_json: AsJson = False) -> None:
    """One dead letter with its headers and body (pseudonymous ids only travel on Kafka)."""
    servers = _servers(kafka)
    partition, offset = _pointer(pointer)
    try:
        letter = _kafka(servers, read_dead_letter(servers, partition, offset))
    except LookupError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    document = {
        **_summary(letter),
        "headers": {k: v.decode(errors="replace") for k, v in letter.headers.items()},
        "body": letter.value.decode(errors="replace"),
    }
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    for name, value in document["headers"].items():
        console.print(f"[bold]{name}[/bold]: {value}")
    console.print()
    console.print(document["body"], markup=False, highlight=False)


@app.command("redrive")
def redrive_(
    pointer: Pointer,
    force: Annotated[
        bool, typer.Option("--force", help="Send it even if it does not validate.")
    ] = False,
    kafka: Kafka = None,
    as_json: AsJson = False,
) -> None:
    """Put a dead letter back on its source topic and partition, with its original key and
    headers (the original body when the dead letter was truncated). Idempotent; refuses a record
    that would fail validation again unless --force."""
    servers = _servers(kafka)
    partition, offset = _pointer(pointer)
    try:
        outcome: Redrive = _kafka(servers, redrive(servers, partition, offset, force=force))
    except RedriveRefused as exc:
        errors.print(f"[red]refused:[/red] {exc} (use --force to send it anyway)")
        raise typer.Exit(1) from None
    except LookupError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        sys.stdout.write(json.dumps({"pointer": pointer, "outcome": outcome.value}) + "\n")
    else:
        console.print(f"{pointer}: {outcome.value}")

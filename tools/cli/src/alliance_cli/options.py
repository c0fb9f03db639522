"""The options every command shares, and where its output goes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

console = Console()
errors = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="PostgreSQL URL of an operator (default: ALLIANCE_DB_ADMIN_URL or DATABASE_URL).",
        show_default=False,
    ),
]
Kafka = Annotated[
    str | None,
    typer.Option(
        "--kafka",
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP_SERVERS).",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]

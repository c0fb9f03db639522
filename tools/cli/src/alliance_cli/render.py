"""Rich rendering of the CLI's answers (the `--json` forms are their dataclasses)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from alliance_cli.rebuild import RebuildProgress
from alliance_cli.status import Status
from alliance_cli.verify import Verification


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.0f} s"


def status(console: Console, found: Status) -> None:
    generations = Table(title="Projections", title_justify="left")
    for column in ("projection", "generation", "version", "slot", "state", "purpose", "group"):
        generations.add_column(column)
    generations.add_column("lag", justify="right")
    lags = Table(title="Lag per partition (behind only)", title_justify="left")
    for column in ("projection", "generation", "topic", "partition", "position", "end"):
        lags.add_column(column, justify="right" if column in ("position", "end") else "left")
    lags.add_column("lag", justify="right")
    for projection in found.projections:
        for g in projection.generations:
            style = "bold green" if g.state == "live" else None
            generations.add_row(
                projection.projection,
                str(g.number),
                str(g.version),
                g.slot,
                g.state,
                g.purpose,
                g.group,
                str(g.lag),
                style=style,
            )
            for p in g.partitions:
                if p.lag:
                    lags.add_row(
                        projection.projection,
                        str(g.number),
                        p.topic,
                        str(p.partition),
                        str(p.position),
                        str(p.end),
                        str(p.lag),
                    )
    console.print(generations)
    if lags.row_count:
        console.print(lags)
    outboxes = Table(title="Outboxes", title_justify="left")
    for column in ("schema", "backlog", "oldest", "parked"):
        outboxes.add_column(column, justify="left" if column == "schema" else "right")
    for o in found.outboxes:
        outboxes.add_row(
            o.schema,
            str(o.backlog),
            _age(o.oldest_age_seconds),
            str(o.parked),
            style="red" if o.parked else None,
        )
    console.print(outboxes)
    parked = Table(title="Parked inputs (waiting)", title_justify="left")
    for column in ("schema", "records", "oldest"):
        parked.add_column(column, justify="left" if column == "schema" else "right")
    for waiting in found.parked:
        parked.add_row(waiting.schema, str(waiting.records), _age(waiting.oldest_age_seconds))
    console.print(parked)
    style = "red" if found.dead_letters else "green"
    console.print(f"Dead letters: [{style}]{found.dead_letters}[/{style}] (`alliance dlq list`)")


def progress(console: Console) -> Callable[[RebuildProgress], None]:
    """A progress bar over the generation's events, with events/s and an ETA."""
    bar = Progress(
        TextColumn("generation {task.fields[generation]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} events"),
        TextColumn("{task.fields[rate]:.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = bar.add_task("rebuild", total=None, generation="?", rate=0.0)

    def report(p: RebuildProgress) -> None:
        if not bar.live.is_started:
            bar.start()
        bar.update(
            task,
            completed=p.consumed,
            total=max(p.total, 1),
            generation=p.generation,
            rate=p.rate,
        )
        if p.state != "building":
            bar.stop()

    return report


def verification(console: Console, result: Verification) -> None:
    where = f"generation {result.live} (live) against a copy built from the log"
    if not result.positions_equal:
        console.print(
            "[yellow]the live generation kept moving: compared at different positions[/yellow]"
        )
    if result.equal:
        console.print(
            f"{result.projection}: [green]equal[/green]: {where}; {result.tables} tables, "
            f"{result.rows} rows"
        )
        return
    table = Table(title=f"{result.projection}: differences, {where}", title_justify="left")
    for column in ("table", "live only", "copy only", "cases (first 100)"):
        table.add_column(column)
    for d in result.differences:
        table.add_row(d.table, str(d.live_only), str(d.copy_only), ", ".join(d.cases))
    console.print(table)

"""One row of the suite's table: Alliance beside its anchor, measured in the same run.

Every benchmark in `python -m bench` reports its figures as `Comparison` rows (and the costs of
its processes as `Cost` rows), so the suite can print one table and write one JSON for all of
them. `ratio` always says how many times worse Alliance is than its anchor (higher = slower), as
in issue 12's table: anchor ÷ Alliance for rates, Alliance ÷ anchor for latencies and costs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Comparison:
    path: str  # what is measured, e.g. "gateway: one case" or "scoring: rebuild"
    metric: str  # e.g. "rps at -c 16", "p99 ms at 20/s", "events/s"
    unit: str
    better: Better  # "higher" for rates, "lower" for latencies and costs
    alliance: float
    anchor_name: str = ""  # empty when the figure has no anchor (e.g. scoring CPU per event)
    anchor: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.anchor is None or self.anchor == 0 or self.alliance == 0:
            return None
        if self.better == "higher":
            return self.anchor / self.alliance
        return self.alliance / self.anchor

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Comparison:
        return cls(**{k: v for k, v in data.items() if k != "ratio"})


@dataclass(frozen=True)
class Cost:
    process: str  # e.g. "scoring", "gateway", "kafka", "postgres"
    bench: str  # the benchmark it was measured in
    cpu_s_per_1000: float | None  # CPU-seconds per 1,000 units of work (events or requests)
    unit: str  # what the 1,000 are: "events", "requests"
    rss_mib: float | None  # resident set size at the end of the measurement

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def table(rows: list[Comparison], costs: list[Cost]) -> str:
    """The suite's table for people: anchor, Alliance and ratio side by side."""
    lines = [
        f"{'path':<34}{'metric':<24}{'anchor':>22}{'alliance':>12}{'ratio':>10}",
    ]
    for r in rows:
        anchor = f"{_number(r.anchor)} {r.anchor_name}".strip() if r.anchor_name else "-"
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        lines.append(
            f"{r.path:<34}{r.metric + ' (' + r.unit + ')':<24}{anchor:>22}"
            f"{_number(r.alliance):>12}{ratio:>10}"
        )
    if costs:
        lines += ["", f"{'process':<14}{'bench':<14}{'CPU-s per 1000':>16}{'RSS MiB':>10}"]
        for c in costs:
            lines.append(
                f"{c.process:<14}{c.bench:<14}"
                f"{_number(c.cpu_s_per_1000) + ' ' + c.unit:>16}{_number(c.rss_mib):>10}"
            )
    return "\n".join(lines)


@dataclass
class BenchResult:
    """What one benchmark of the suite hands back: its rows, its costs and its raw details."""

    name: str
    comparisons: list[Comparison]
    costs: list[Cost]
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "comparisons": [c.as_json() for c in self.comparisons],
            "costs": [c.as_json() for c in self.costs],
            "details": self.details,
        }

"""The benchmark suite: Alliance beside its anchors, in one run, one table, one JSON.

    ./dev bench [gateway] [intake] [scoring] [--quick] [--json FILE] [--keep] [--timeout S]

- gateway: the two GraphQL operations of bench/queries/ against PostGraphile v4 on the same
  read-model views (bench/gateway_bench.py);
- intake: POST /v1/responses against a FastAPI hello-world POST on the same server settings
  (bench/intake_bench.py);
- scoring: `python -m bench.drain_vs_scoring` as a subprocess; its `comparisons` and `costs`.

Each HTTP benchmark runs on a throwaway stack of its own (bench/http_stack.py) and stops what it
started, also on error. Measures and prints; asserts nothing about speed. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench.comparison import BenchResult, Comparison, Cost, table
from bench.machine import REPO, machine

NAMES = ("gateway", "intake", "scoring")
RESULTS = REPO / "bench" / "results"


def source() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
        return out.stdout.rstrip()

    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)",
        "uncommitted": [ln[3:] for ln in git("status", "--porcelain").splitlines()],
    }


def versions() -> dict[str, str]:
    from bench.loadtools import tool_versions

    out = {"python": platform.python_version()}
    for package in ("uvicorn", "fastapi", "strawberry-graphql", "asyncpg", "uvloop", "httptools"):
        try:
            out[package] = version(package)
        except Exception:
            out[package] = "not installed"
    return out | tool_versions()


def run_http(name: str, args: argparse.Namespace, deadline: float) -> BenchResult:
    import asyncio

    from bench.http_stack import http_stack
    from bench.loadtools import ensure_vegeta, ensure_wrk
    from bench.side_by_side import FULL, QUICK

    ensure_wrk()  # installed before anything is measured
    ensure_vegeta()
    durations = QUICK if args.quick else FULL
    run_id = uuid.uuid4().hex[:8]
    with http_stack(deadline, args.keep) as stack:
        if name == "intake":
            from bench import intake_bench

            return asyncio.run(intake_bench.run(stack, durations, run_id))
        from bench import gateway_bench

        return asyncio.run(gateway_bench.run(stack, durations, run_id, deadline))


def run_scoring(args: argparse.Namespace, deadline: float) -> BenchResult:
    """bench.drain_vs_scoring as its own process; reads `comparisons` and `costs` from its
    JSON (each optional)."""
    with tempfile.TemporaryDirectory(prefix="alliance-bench-scoring-") as tmp:
        out = Path(tmp) / "scoring.json"
        remaining = max(60.0, deadline - time.monotonic())
        # Its own --timeout, so that it stops its stack itself; ours only as a last resort.
        argv = [
            sys.executable,
            "-m",
            "bench.drain_vs_scoring",
            "--json",
            str(out),
            "--timeout",
            str(round(remaining)),
        ]
        if args.events or args.quick:
            argv += ["--events", str(args.events or 5000)]
        subprocess.run(
            argv,
            cwd=REPO,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=remaining + 60,
        )
        data = json.loads(out.read_text())
    if "comparisons" not in data:
        print("[bench] scoring: its JSON has no `comparisons` (yet): no rows", file=sys.stderr)
    return BenchResult(
        name="scoring",
        comparisons=[Comparison.from_json(c) for c in data.get("comparisons", [])],
        costs=[Cost(**c) for c in data.get("costs", [])],
        details=data,
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"{', '.join(NAMES)} (none: all)")
    parser.add_argument("--json", type=Path, help="result JSON (default: bench/results/<UTC>.json)")
    parser.add_argument("--quick", action="store_true", help="short durations: a smoke run")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway stack directories")
    parser.add_argument("--timeout", type=float, default=1800, help="whole run, seconds")
    parser.add_argument("--events", type=int, help="scoring: events to pre-fill")
    args = parser.parse_args()
    if unknown := set(args.names) - set(NAMES):
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    names = [n for n in NAMES if n in args.names] if args.names else list(NAMES)
    deadline = time.monotonic() + args.timeout
    started = datetime.now(UTC)
    result: dict[str, Any] = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source(),
        "versions": versions(),
        "quick": args.quick,
        "benchmarks": {},
        "failed": {},
    }
    rows: list[Comparison] = []
    costs: list[Cost] = []
    for name in names:
        print(f"[bench] === {name} ===", file=sys.stderr, flush=True)
        try:
            bench = (
                run_scoring(args, deadline) if name == "scoring" else run_http(name, args, deadline)
            )
        except Exception as exc:  # one benchmark failing does not lose the others' figures
            print(f"[bench] {name} FAILED: {exc!r}", file=sys.stderr, flush=True)
            result["failed"][name] = repr(exc)
            continue
        result["benchmarks"][name] = bench.as_json()
        rows += bench.comparisons
        costs += bench.costs
    result["comparisons"] = [r.as_json() for r in rows]
    result["costs"] = [c.as_json() for c in costs]
    path = args.json or RESULTS / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    m = result["machine"]
    print(
        f"{m['cpus']} CPU {m['cpu_model']}, {m['ram_gib']} GiB, Python {m['python']}; "
        f"commit {result['source']['commit']}"
        + (
            f" (+{len(result['source']['uncommitted'])} uncommitted)"
            if result["source"]["uncommitted"]
            else ""
        )
        + f"; {started:%Y-%m-%d %H:%M} UTC"
    )
    print(table(rows, costs))
    busy = {
        name: b["details"]["other_cores"]
        for name, b in result["benchmarks"].items()
        if "other_cores" in b["details"]
    }
    if busy:
        print(
            "\nother (cores the rest of the machine kept busy during the closed loops): "
            + ", ".join(f"{name} {cores:.2f}" for name, cores in busy.items())
        )
    print(f"\nJSON: {os.path.relpath(path)}", file=sys.stderr)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

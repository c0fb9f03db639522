"""Demo network simulator: sends a small clinic network's questionnaire responses and episode
endings to intake, with a case for every clinical pattern (see alliance_demo.network).

    python -m alliance_demo --intake-url http://127.0.0.1:8001 [--seed 7]
                            [--gateway-url http://127.0.0.1:8004] [--now 2026-11-25]

Re-running with the same seed on the same (UTC) day is a no-op: every submission comes back as
a duplicate. Responses are dated relative to the day of `--now` (default: today), so to repeat a
run on a later day against the same stack, pass the earlier run's date as `--now`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from alliance_demo.driver import IntakeRejected, IntakeUnavailable, SendResult, send_all
from alliance_demo.network import CaseKind, Network, Pattern, build_network


def parse_now(text: str) -> datetime:
    """An ISO date or date-time; without a zone it is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or date-time: {text!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m alliance_demo",
        description="Send a simulated clinic network's questionnaires (alliance and outcome) "
        "and episode endings to intake.",
    )
    parser.add_argument("--intake-url", required=True, help="e.g. http://127.0.0.1:8001")
    parser.add_argument("--seed", type=int, default=7, help="network seed (default: 7)")
    parser.add_argument(
        "--gateway-url", help="print an example GraphQL query, e.g. http://127.0.0.1:8004"
    )
    parser.add_argument(
        "--now",
        type=parse_now,
        default=None,
        help="date the responses relative to this day (ISO date; default: today, UTC)",
    )
    parser.add_argument("--concurrency", type=int, default=8, help="cases sent at once")
    parser.add_argument(
        "--token",
        default=os.environ.get("ALLIANCE_INTAKE_TOKEN"),
        help="a clinic system's bearer token with responses:write for the demo clinics "
        "(default: $ALLIANCE_INTAKE_TOKEN; ./dev up passes one)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    return args


# What each pattern should show once scoring has folded the case (see docs/clinical.md).
SHOWS = {
    Pattern.GROWTH: "alliance grows, outcome on track, no rupture",
    Pattern.REPAIRED_RUPTURE: "V-shaped rupture, repaired within the window",
    Pattern.UNREPAIRED_RUPTURE: "rupture unresolved after 6 sessions (escalated)",
    Pattern.SPLIT: "child low, parents high: split alliance",
    Pattern.RECOVERY: "recovered twice: termination readiness, planned ending",
    Pattern.DETERIORATION: "outcome reliably worse, alliance fine",
    Pattern.NOT_ON_TRACK: "severe intake, flat: off track; a critical item once",
    Pattern.DROPOUT: "rupture, then a unilateral ending",
}


def network_summary(network: Network) -> list[str]:
    clinics = ", ".join(
        f"{c.clinic_id} ({len(c.therapist_ids)} therapists)" for c in network.clinics
    )
    kinds = Counter(c.kind for c in network.cases)
    patterns = Counter(c.pattern for c in network.cases)
    parents = sum(len(c.parent_ids) for c in network.cases)
    instruments = Counter(r.instrument for r in network.responses)
    endings = Counter(e.ending.value for e in network.endings)
    width = max(len(p.value) for p in Pattern)
    lines = [
        f"Alliance demo network, seed {network.seed}, "
        f"everything dated before {network.anchor:%Y-%m-%d %H:%M} UTC",
        f"  clinics:   {clinics}",
        f"  cases:     {len(network.cases)} ({kinds[CaseKind.ADULT]} adult, "
        f"{kinds[CaseKind.ADOLESCENT]} adolescent, {kinds[CaseKind.CHILD]} child with "
        f"{parents} parent/caregiver respondents)",
        f"  responses: {len(network.responses)} ("
        + ", ".join(f"{code} {n}" for code, n in sorted(instruments.items()))
        + ")",
        f"  endings:   {len(network.endings)} ("
        + ", ".join(f"{kind} {n}" for kind, n in sorted(endings.items()))
        + ")",
        "  patterns:",
    ]
    for pattern in Pattern:
        cases = [c for c in network.cases if c.pattern is pattern]
        lines.append(f"    {pattern.value:<{width}} {patterns[pattern]:>2}  {SHOWS[pattern]}")
        if pattern is not Pattern.GROWTH:
            lines.extend(
                f"    {'':<{width}}     {c.case_id} ({c.clinic_id}, {c.kind.value}, "
                f"{c.outcome}, {c.sessions} sessions"
                + (f", {c.ending.value} ending" if c.ending else "")
                + ")"
                for c in cases
            )
    return lines


def example_query(network: Network) -> tuple[str, str]:
    """A GraphQL query for the most telling case (a child/parent split) and its clinic's alerts."""
    case = next((c for c in network.cases if c.pattern is Pattern.SPLIT), network.cases[0])
    query = f"""{{
  case(clinicId: "{case.clinic_id}", caseId: "{case.case_id}") {{
    caseId phase latestSession
    episode {{ status ending endedAt }}
    outcomes {{ instrument respondentRole baselineTotal latestTotal improvement outcomeClass
               onTrack }}
    splits {{ gap active reason }}
    readiness {{ ready reasons }}
    dyads {{
      therapistId respondentRole respondentId responses discrepancy
      trend {{ instrument slopePerSession declining }}
      ruptures {{ instrument openedSession status resolvedSession severity
                 evidence {{ rule threshold inputs }} }}
      timeline {{ instrument sessionNumber total }}
    }}
  }}
  alerts(clinicId: "{case.clinic_id}", status: OPEN, first: 20) {{
    edges {{ node {{ caseId respondentRole instrument sessionNumber raisedAt
                    evidence {{ rule threshold inputs }} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""
    return case.case_id, query


def gateway_hint(network: Network, gateway_url: str) -> list[str]:
    endpoint = gateway_url.rstrip("/") + "/graphql"
    case_id, query = example_query(network)
    body = json.dumps({"query": " ".join(query.split())})
    curl = (
        f'curl -s {shlex.quote(endpoint)} -H "Authorization: Bearer $TOKEN" '
        f"-H 'content-type: application/json' -d {shlex.quote(body)}"
    )
    return [
        "",
        f"Case {case_id} and its clinic's open alerts, in GraphiQL at {endpoint}",
        "(scores and alerts appear once scoring and alerts have consumed the events;",
        "put another case id from the list above in the query to see its pattern):",
        "",
        query,
        "",
        "or from a shell:",
        curl,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    network = build_network(args.seed, args.now or datetime.now(UTC))
    for line in network_summary(network):
        print(line)
    try:
        result: SendResult = asyncio.run(
            send_all(
                network.submissions,
                args.intake_url,
                concurrency=args.concurrency,
                token=args.token,
            )
        )
    except IntakeRejected as exc:
        print(f"\nintake rejected a response: {exc}", file=sys.stderr)
        if exc.status_code == 409:
            print(
                "This stack already holds that idempotency key with other content: it was "
                "filled with another --seed or on another day. Re-run with that run's --seed "
                "and --now, or start from an empty stack (./dev reset).",
                file=sys.stderr,
            )
        return 1
    except IntakeUnavailable as exc:
        print(f"\nintake unavailable at {args.intake_url}: {exc}", file=sys.stderr)
        return 1
    print(
        f"  sent:      {result.sent} to {args.intake_url} "
        f"({result.sent - result.endings} responses, {result.endings} episode endings): "
        f"{result.accepted} accepted, {result.duplicates} duplicates"
    )
    if args.gateway_url:
        for line in gateway_hint(network, args.gateway_url):
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

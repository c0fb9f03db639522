"""Split alliance: a child and a parent who experience the alliance differently. Pure.

Inputs: each child (client) dyad paired with each parent dyad of the case, by the latest rating
of each on any alliance instrument (0-1 scale), and whether each side is flagged (an open rupture
or a latest rating below its cut-off). Threshold: `split_gap`; switch `split_alliance`. Robbins
2003; Shelef 2005 (docs/clinical.md, 3.8). Evolves: `CaseState.splits`. Detects:
`split_detected` when a pair becomes active.
"""

from __future__ import annotations

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, DyadPair, RuleEvidence
from alliance_contracts.exact import (
    share_difference,
    share_units,
    tenths,
    threshold_share_units,
    threshold_tenths,
)
from alliance_contracts.instruments import REGISTRY, Construct
from alliance_contracts.vocabulary import RespondentRole, RuleName, Severity, SignalKind
from alliance_scoring.domain.state import CaseState, DyadState, Point, SplitState
from alliance_scoring.domain.step import Step


def latest_alliance(dyad: DyadState) -> Point | None:
    """The dyad's latest alliance rating on any alliance instrument (0-1 scale)."""
    points = [
        s[-1] for code, s in dyad.series.items() if REGISTRY[code].construct is Construct.ALLIANCE
    ]
    return max(points, key=lambda x: (x.administered_at, x.session_number), default=None)


def _flagged(dyad: DyadState, config: ClinicalConfig) -> str | None:
    if any(r.is_open for r in dyad.ruptures):
        return "open rupture"
    latest = latest_alliance(dyad)
    for code, points in dyad.series.items():
        cutoff = config.alliance_cutoffs.get(code)
        if (
            cutoff
            and latest is not None
            and points[-1] == latest
            and tenths(latest.total) < threshold_tenths(cutoff.value)
        ):
            return f"{code} below its cut-off"
    return None


def evolve(state: CaseState, config: ClinicalConfig) -> tuple[SplitState, ...]:
    """Child dyad vs each parent dyad of the same case."""
    if not config.enabled(RuleName.SPLIT_ALLIANCE):
        return ()
    children = [d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.CLIENT]
    parents = [d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.PARENT]
    splits = []
    for child in children:
        for parent in parents:
            c, p = latest_alliance(child), latest_alliance(parent)
            if c is None or p is None:
                continue
            gap = share_difference(p.normalized, c.normalized)
            child_flag, parent_flag = _flagged(child, config), _flagged(parent, config)
            reason = None
            # Exact, in ten-thousandths of the 0-1 scale: a gap of exactly the threshold splits.
            if abs(share_units(gap)) >= threshold_share_units(config.split_gap.value):
                reason = f"gap {gap:+.2f} on the 0-1 scale (threshold {config.split_gap.value})"
            elif bool(child_flag) != bool(parent_flag):
                reason = f"child: {child_flag or 'fine'}; parent: {parent_flag or 'fine'}"
            splits.append(
                SplitState(
                    child_dyad_id=child.dyad.dyad_id,
                    parent_dyad_id=parent.dyad.dyad_id,
                    gap=gap,
                    active=reason is not None,
                    reason=reason,
                )
            )
    return tuple(splits)


def detect(step: Step) -> list[ClinicalSignal]:
    """A pair that became active in this step (not again while it stays active)."""
    signals: list[ClinicalSignal] = []
    config, after = step.config, step.after
    before = {(s.child_dyad_id, s.parent_dyad_id): s for s in step.before.splits}
    for s in after.splits:
        was = before.get((s.child_dyad_id, s.parent_dyad_id))
        if not s.active or (was and was.active):
            continue
        evidence = RuleEvidence(
            rule=RuleName.SPLIT_ALLIANCE,
            threshold=config.split_gap.value,
            inputs={
                "gap": s.gap,
                "reason": s.reason,
                "child_dyad_id": str(s.child_dyad_id),
                "parent_dyad_id": str(s.parent_dyad_id),
            },
            citation=config.split_gap.source,
        )
        signals.append(
            step.signal(
                SignalKind.SPLIT_DETECTED,
                f"{s.child_dyad_id}:{s.parent_dyad_id}",
                f"split alliance between child and parent: {s.reason}",
                [evidence],
                session=after.latest_session,
                severity=Severity.MODERATE,
                split=DyadPair(child_dyad_id=s.child_dyad_id, parent_dyad_id=s.parent_dyad_id),
            )
        )
    return signals

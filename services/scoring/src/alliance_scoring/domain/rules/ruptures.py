"""Rupture rules over one dyad's alliance series, and the rupture lifecycle. Pure.

Inputs: the dyad's series on one alliance instrument (SRS, CSRS, WAI-SR, TASC-R) and the new
session. Rules that open a rupture (each switchable and tuned through ClinicalConfig; sources
and confidence in docs/clinical.md, 3.1-3.5):
- `below_cutoff`: the SRS/CSRS total is below its cut-off.
- `drop_from_previous`: the SRS/CSRS total fell by at least 1 point since the previous session.
- `reliable_drop`: the score fell below the mean of the dyad's own course by 1 SD (lenient,
  moderate) or 2 SD (strict, high), SD being the larger of the dyad's own and the clinic's
  sample SD (Gumz et al. 2012).
- `sudden_loss`: the three Tang & DeRubeis criteria, mirrored for a loss; judged once the two
  sessions after the drop are in, so it is reported two sessions late.

A rupture is repaired (`rupture_repaired`) when the score returns to its pre-rupture level (the
V shape) and becomes unresolved (`rupture_unresolved`, escalated) after `repair_window_sessions`
sessions without that. Evolves: `DyadState.ruptures` (`advance_ruptures`). Detects:
`rupture_opened`, `rupture_repaired`, `rupture_escalated` (`detect`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from fractions import Fraction

from alliance_contracts.clinical_config import ClinicalConfig
from alliance_contracts.events import ClinicalSignal, RuleEvidence
from alliance_contracts.exact import decimal, from_tenths, tenths, threshold_tenths
from alliance_contracts.instruments import Instrument
from alliance_contracts.vocabulary import RuleName, RuptureStatus, Severity, SignalKind
from alliance_scoring.domain.state import Point, Rupture
from alliance_scoring.domain.stats import T_CRITICAL_95, mean, pooled_variance, sample_variance
from alliance_scoring.domain.step import Step

SEVERITY_ORDER = {Severity.LOW: 0, Severity.MODERATE: 1, Severity.HIGH: 2}
RUPTURE_NAMESPACE = uuid.UUID("3e9c1f0e-7a55-4b0e-8d5c-1c2b3a4d5e6f")


def rupture_id(dyad_id: uuid.UUID, instrument: str, session: int) -> uuid.UUID:
    return uuid.uuid5(RUPTURE_NAMESPACE, f"{dyad_id}:{instrument}:{session}")


def session_rules(
    instrument: Instrument, prior: Sequence[Point], point: Point, config: ClinicalConfig
) -> list[tuple[RuleEvidence, Severity]]:
    """The rules judged on the new session against the sessions before it, in exact tenths."""
    hits: list[tuple[RuleEvidence, Severity]] = []
    cutoff = config.alliance_cutoffs.get(instrument.code)
    total = tenths(point.total)
    if (
        cutoff
        and config.enabled(RuleName.BELOW_CUTOFF)
        and total < threshold_tenths(cutoff.value)  # "below 36": exactly 36 is not flagged
    ):
        hits.append(
            (
                RuleEvidence(
                    rule=RuleName.BELOW_CUTOFF,
                    inputs={"total": point.total, "session_number": point.session_number},
                    threshold=cutoff.value,
                    citation=cutoff.source,
                ),
                Severity.LOW,
            )
        )
    if cutoff and prior and config.enabled(RuleName.DROP_FROM_PREVIOUS):
        previous = prior[-1]
        drop = tenths(previous.total) - total
        if drop >= threshold_tenths(config.drop_from_previous.value):  # "at least 1 point"
            hits.append(
                (
                    RuleEvidence(
                        rule=RuleName.DROP_FROM_PREVIOUS,
                        inputs={
                            "previous_total": previous.total,
                            "total": point.total,
                            "drop": from_tenths(drop),
                            "previous_session": previous.session_number,
                        },
                        threshold=config.drop_from_previous.value,
                        citation=config.drop_from_previous.source,
                    ),
                    Severity.LOW,
                )
            )
    if len(prior) >= config.reliable_drop_min_sessions.value and config.enabled(
        RuleName.RELIABLE_DROP
    ):
        hits.extend(_reliable_drop(instrument, prior, point, config))
    return hits


def _reliable_drop(
    instrument: Instrument, prior: Sequence[Point], point: Point, config: ClinicalConfig
) -> list[tuple[RuleEvidence, Severity]]:
    """drop >= z * SD, decided exactly on squares in tenths: the mean and the variance of the
    course are rational, so drop >= 0 and drop^2 >= z^2 * SD^2 needs no square root."""
    course = [tenths(p.total) for p in prior]
    own_variance = sample_variance(course)
    sample = config.alliance_sample_sd.get(instrument.code)
    sample_sd = threshold_tenths(sample.value) if sample else Fraction(0)
    floor = decimal(config.sd_floor_share_of_range.value) * (
        tenths(instrument.total_max) - tenths(instrument.total_min)
    )
    variance = max(own_variance, sample_sd**2, floor**2)
    drop = mean(course) - tenths(point.total)
    for z, severity in (
        (config.reliable_drop_strict_sd, Severity.HIGH),
        (config.reliable_drop_lenient_sd, Severity.MODERATE),
    ):
        if drop >= 0 and drop**2 >= decimal(z.value) ** 2 * variance:
            sd = math.sqrt(variance) / 10  # shown in points, to 3 decimals
            evidence = RuleEvidence(
                rule=RuleName.RELIABLE_DROP,
                inputs={
                    "total": point.total,
                    "course_mean": round(float(mean(course)) / 10, 3),
                    "own_sd": round(math.sqrt(own_variance) / 10, 3),
                    "sample_sd": sample.value if sample else None,
                    "sd_used": round(sd, 3),
                    "sessions": len(course),
                    "z": z.value,
                },
                threshold=round(z.value * sd, 3),
                citation=z.source + "; Gumz et al. 2012 (stricter SD)",
            )
            return [(evidence, severity)]
    return []


def last_per_session(series: Sequence[Point]) -> list[Point]:
    """One point per session, its last administration (the series is in session, then
    administration order): a session rated twice is still one session of the windows."""
    return [p for p, after in zip(series, (*series[1:], None), strict=True)
            if after is None or after.session_number != p.session_number]  # fmt: skip


def sudden_loss(
    instrument: Instrument, series: Sequence[Point], config: ClinicalConfig
) -> tuple[RuleEvidence, Point, Point] | None:
    """Judges the drop into the third-latest session (its two following sessions are in), on
    the last administration of each session. Returns the evidence, the session before the drop
    and the session of the drop."""
    if not config.enabled(RuleName.SUDDEN_LOSS):
        return None
    sessions = last_per_session(series)
    if len(sessions) < 4:
        return None
    at = len(sessions) - 3
    before, drop_point = sessions[at - 1], sessions[at]
    s = drop_point.session_number
    pre = [tenths(p.total) for p in sessions if s - 3 <= p.session_number <= s - 1]
    post = [tenths(p.total) for p in sessions if s <= p.session_number <= s + 2]
    rcv = config.alliance_reliable_change.get(instrument.code)
    if len(pre) < 2 or len(post) < 2 or rcv is None:
        return None  # fewer than 2 sessions on a side: not evaluable
    previous = tenths(before.total)
    drop = previous - tenths(drop_point.total)
    critical = T_CRITICAL_95[len(pre) + len(post) - 2]
    difference = mean(pre) - mean(post)
    pooled = pooled_variance(pre, post)
    # Exact in tenths; the third criterion (difference > critical * pooled SD) on squares.
    criteria = (
        drop >= threshold_tenths(rcv.value),
        previous > 0 and drop >= decimal(config.sudden_loss_share.value) * previous,
        difference > 0 and difference**2 > decimal(critical) ** 2 * pooled,
    )
    if not all(criteria):
        return None
    evidence = RuleEvidence(
        rule=RuleName.SUDDEN_LOSS,
        inputs={
            "previous_total": before.total,
            "total": drop_point.total,
            "drop": from_tenths(drop),
            "pre_mean": round(float(mean(pre)) / 10, 3),
            "post_mean": round(float(mean(post)) / 10, 3),
            "pooled_sd": round(math.sqrt(pooled) / 10, 3),
            "critical_value": critical,
            "n_pre": len(pre),
            "n_post": len(post),
            "share_threshold": config.sudden_loss_share.value,
        },
        threshold=rcv.value,
        citation=f"{config.sudden_loss_share.source}; reliable-change value: {rcv.source}",
    )
    return evidence, before, drop_point


def _strongest(hits: Sequence[tuple[RuleEvidence, Severity]]) -> Severity:
    return max((s for _, s in hits), key=SEVERITY_ORDER.__getitem__)


def advance_ruptures(
    ruptures: tuple[Rupture, ...],
    dyad_id: uuid.UUID,
    instrument: Instrument,
    series: Sequence[Point],
    point: Point,
    config: ClinicalConfig,
) -> tuple[Rupture, ...]:
    """Moves this instrument's ruptures one session on: repair, escalation, new ruptures."""
    window = int(config.repair_window_sessions.value)
    updated: list[Rupture] = []
    for r in ruptures:
        if (
            r.instrument != instrument.code
            or not r.is_open
            or point.session_number <= r.opened_session
        ):
            updated.append(r)
        elif tenths(point.total) >= threshold_tenths(r.target):  # back to the level: repaired
            updated.append(
                r.model_copy(
                    update={
                        "status": RuptureStatus.REPAIRED,
                        "resolved_session": point.session_number,
                    }
                )
            )
        elif r.status == RuptureStatus.OPEN and point.session_number - r.opened_session >= window:
            updated.append(
                r.model_copy(
                    update={
                        "status": RuptureStatus.UNRESOLVED,
                        "resolved_session": point.session_number,
                    }
                )
            )
        else:
            updated.append(r)
    prior = [p for p in series if p.session_number < point.session_number]
    hits = session_rules(instrument, prior, point, config)
    loss = sudden_loss(instrument, series, config)
    open_now = next((r for r in updated if r.instrument == instrument.code and r.is_open), None)
    if loss is not None:
        evidence, before, drop_point = loss
        if open_now is None:
            # Reported late: the rupture is dated at the drop, two sessions back.
            opened = Rupture(
                rupture_id=rupture_id(dyad_id, instrument.code, drop_point.session_number),
                instrument=instrument.code,
                opened_session=drop_point.session_number,
                opened_at=drop_point.administered_at,
                severity=Severity.MODERATE,
                target=before.total,
                evidence=(evidence,),
            )
            updated.append(opened)
            open_now = opened
        elif all(e.rule is not RuleName.SUDDEN_LOSS for e in open_now.evidence):
            updated[updated.index(open_now)] = open_now = open_now.model_copy(
                update={"evidence": (*open_now.evidence, evidence)}
            )
    if hits and open_now is None:
        cutoff = config.alliance_cutoffs.get(instrument.code)
        target = prior[-1].total if prior else (cutoff.value if cutoff else point.total)
        updated.append(
            Rupture(
                rupture_id=rupture_id(dyad_id, instrument.code, point.session_number),
                instrument=instrument.code,
                opened_session=point.session_number,
                opened_at=point.administered_at,
                severity=_strongest(hits),
                target=target,
                evidence=tuple(e for e, _ in hits),
            )
        )
    return tuple(updated)


def detect(step: Step) -> list[ClinicalSignal]:
    """A rupture opened, repaired or gone unresolved in this step, per dyad."""
    signals: list[ClinicalSignal] = []
    before, window = step.before.dyads, step.config.repair_window_sessions
    for key, dyad in step.after.dyads.items():
        if key in before and before[key].ruptures is dyad.ruptures:
            continue  # the same ruptures: none opened or changed status
        old = {r.rupture_id: r for r in before[key].ruptures} if key in before else {}
        for r in dyad.ruptures:
            was = old.get(r.rupture_id)
            role = dyad.dyad.respondent_role.value
            if was is None:
                signals.append(
                    step.signal(
                        SignalKind.RUPTURE_OPENED,
                        r.rupture_id,
                        f"{r.instrument} rupture opened at session {r.opened_session} "
                        f"({role} rating)",
                        r.evidence,
                        dyad=dyad.dyad,
                        instrument=r.instrument,
                        session=r.opened_session,
                        severity=r.severity,
                    )
                )
            elif was.status != r.status and r.status == RuptureStatus.REPAIRED:
                evidence = RuleEvidence(
                    rule=RuleName.RUPTURE_REPAIRED,
                    threshold=r.target,
                    inputs={
                        "opened_session": r.opened_session,
                        "repaired_session": r.resolved_session,
                        "pre_rupture_level": r.target,
                    },
                    citation="repair: return to the pre-rupture level (V shape)",
                )
                signals.append(
                    step.signal(
                        SignalKind.RUPTURE_REPAIRED,
                        r.rupture_id,
                        f"{r.instrument} rupture of session {r.opened_session} repaired at "
                        f"session {r.resolved_session}",
                        [evidence],
                        dyad=dyad.dyad,
                        instrument=r.instrument,
                        session=r.resolved_session,
                        severity=r.severity,
                    )
                )
            elif was.status != r.status and r.status == RuptureStatus.UNRESOLVED:
                evidence = RuleEvidence(
                    rule=RuleName.RUPTURE_UNRESOLVED,
                    threshold=window.value,
                    inputs={
                        "opened_session": r.opened_session,
                        "session_number": r.resolved_session,
                        "pre_rupture_level": r.target,
                    },
                    citation=window.source,
                )
                signals.append(
                    step.signal(
                        SignalKind.RUPTURE_ESCALATED,
                        r.rupture_id,
                        f"{r.instrument} rupture of session {r.opened_session} unresolved after "
                        f"{window.value:g} sessions",
                        [evidence],
                        dyad=dyad.dyad,
                        instrument=r.instrument,
                        session=r.resolved_session,
                        severity=Severity.HIGH,
                    )
                )
    return signals

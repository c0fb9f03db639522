"""Clinical configuration: every threshold the rules use, as data with its source.

Defaults come from ../shared/reference/instruments.md. Confidence: C = confirmed by a primary
source or two independent ones, P = one vendor or secondary source, U = unconfirmed: a default we
chose, to be tuned per clinic. A clinic overrides any value; the rules record which value and
source they used (see docs/clinical.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alliance_contracts.exact import tenths, threshold_tenths
from alliance_contracts.ids import Citation, Code
from alliance_contracts.vocabulary import RuleName

Confidence = Literal["C", "P", "U"]


class Cited(BaseModel):
    """A number and where it comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    value: float
    source: Citation
    confidence: Confidence


def cited(value: float, source: str, confidence: Confidence) -> Cited:
    return Cited(value=value, source=source, confidence=confidence)


class Boundary(BaseModel):
    """Whether a value exactly on a threshold counts as reaching it, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    inclusive: bool  # True: exactly on the threshold counts (>=); False: only beyond it (>)
    source: Citation
    confidence: Confidence


class NormSet(BaseModel):
    """OQ-45.2 norms of one country."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    cutoff: Cited  # total >= cutoff is the clinical range (higher = worse)
    reliable_change: Cited


class ExpectedCurveBand(BaseModel):
    """Expected improvement after session s = gain * ln(s), for clients whose intake score falls
    in this band of severity. An approximation of the proprietary expected-treatment-response
    curves (Finch et al. 2001 fitted score ~ log(session) by intake severity)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: Code
    intake_from: float  # band covers intake totals in [intake_from, intake_to)
    intake_to: float
    gain_per_log_session: Cited
    tolerance: Cited  # below expected by more than this: not on track


# The rules a clinic can switch off in `rules_enabled` (all on by default). The alert kinds are
# switched separately; the rupture lifecycle and the phases always run.
RULES: tuple[RuleName, ...] = (
    RuleName.BELOW_CUTOFF,
    RuleName.DROP_FROM_PREVIOUS,
    RuleName.RELIABLE_DROP,
    RuleName.SUDDEN_LOSS,
    RuleName.SPLIT_ALLIANCE,
    RuleName.DETERIORATION,
    RuleName.OFF_TRACK,
    RuleName.CRITICAL_ITEMS,
    RuleName.TERMINATION_READINESS,
)

_SRS = "Duncan et al. 2003; PCOMS/OpenFIT"
_SUDDEN = "Tang & DeRubeis 1999 criteria, mirrored for losses as coded in R `suddengains`"
_CURVE = "Finch et al. 2001 method (score ~ log(session) by intake severity); parameters ours"

NORM_SETS: dict[str, NormSet] = {
    "US": NormSet(
        # Sources disagree: ">= 63 clinical range; some literature uses 64". A clinic that follows
        # the 64 reading sets norm_sets.US.cutoff to 64 (docs/clinical.md, exact boundaries).
        cutoff=cited(
            63, "Lambert et al., OQ-45.2 US norms: >= 63 clinical range (some use 64)", "P"
        ),
        reliable_change=cited(14, "Lambert et al., OQ-45.2 US RCI", "C"),
    ),
    "NL": NormSet(
        cutoff=cited(56, "OQ-45 Dutch norms", "C"),
        reliable_change=cited(18, "OQ-45 Dutch RCI", "C"),
    ),
}


class AlertRule(BaseModel):
    """How one alert kind behaves in a clinic."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    priority: Literal["same_day", "urgent", "routine"] = "urgent"
    # Unacknowledged this long after it was raised: escalate to the clinic's supervisors.
    # 0: at once. None: never.
    escalate_after_hours: Cited | None = None


_ESCALATE = "unacknowledged before the next weekly session: escalate (our default)"


def _alert_rules() -> dict[str, AlertRule]:
    def hours(h: float, source: str = _ESCALATE) -> Cited:
        return cited(h, source, "U")

    return {
        "rupture": AlertRule(escalate_after_hours=hours(72)),
        "early_low_alliance": AlertRule(escalate_after_hours=hours(72)),
        "split_alliance": AlertRule(escalate_after_hours=hours(72)),
        "deterioration": AlertRule(escalate_after_hours=hours(72)),
        "off_track": AlertRule(priority="routine", escalate_after_hours=hours(168)),
        "critical_item": AlertRule(
            priority="same_day",
            escalate_after_hours=cited(
                0, "critical items need same-day follow-up: supervisors at once [P]", "P"
            ),
        ),
        "termination_readiness": AlertRule(priority="routine"),
    }


class ClinicalConfig(BaseModel):
    """All thresholds of the clinical rules, for one clinic (defaults: the network's)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    # -- alliance: cut-offs and drops (SRS family)
    alliance_cutoffs: dict[Code, Cited] = Field(
        default_factory=lambda: {
            "SRS": cited(36, f"{_SRS}: total below 36 flags a possible problem", "C"),
            "CSRS": cited(36, "CSRS cut-off unpublished; the SRS value is used", "U"),
        }
    )
    drop_from_previous: Cited = cited(
        1, f"{_SRS}: at least 1 point below the previous session", "C"
    )
    # -- alliance: reliable drop against the dyad's own course
    reliable_drop_lenient_sd: Cited = cited(1, "Stiles et al. 2004; Strauss et al. 2006", "C")
    reliable_drop_strict_sd: Cited = cited(2, "Stiles et al. 2004; Strauss et al. 2006", "C")
    reliable_drop_min_sessions: Cited = cited(3, "sessions of own course needed for an SD", "U")
    # Gumz et al. 2012: take the stricter (larger) of the dyad's SD and the clinic's sample SD.
    # No published sample SDs: a clinic sets them from its own data; until then a floor of 5% of
    # the range keeps a flat series from flagging every tiny dip.
    alliance_sample_sd: dict[Code, Cited] = Field(default_factory=dict)
    sd_floor_share_of_range: Cited = cited(0.05, "our floor against zero-SD series", "U")
    # -- alliance: sudden loss
    sudden_loss_share: Cited = cited(0.25, f"{_SUDDEN}: drop >= 25% of the previous score", "C")
    alliance_reliable_change: dict[Code, Cited] = Field(
        default_factory=lambda: {
            code: cited(v, "no published RCI for alliance scales: 10% of the range", "U")
            for code, v in {"SRS": 4, "CSRS": 4, "WAI-SR": 4.8, "TASC-R": 3.6}.items()
        }
    )
    # -- ruptures: repair and escalation
    repair_window_sessions: Cited = cited(
        6, "Ruptures most often take a V shape; repair can take up to ~6 sessions", "C"
    )
    # -- split alliance (child vs parent on the 0-1 scale)
    split_gap: Cited = cited(0.2, "no validated split threshold: gap on the 0-1 scale", "U")
    # -- phases and trend
    foundation_sessions: Cited = cited(5, "alliance measured early (sessions 3-5); 1-5", "P")
    trend_window_sessions: Cited = cited(4, "sessions in the trend's least-squares slope", "U")
    declining_slope: Cited = cited(-0.02, "declining: losing over 2% of the range per session", "U")
    # -- outcome
    ors_cutoffs: dict[Code, Cited] = Field(
        default_factory=lambda: {
            "adult": cited(25, "ORS adult clinical cut-off", "C"),
            "adolescent": cited(28, "ORS adolescents 13-17", "P"),
            "child": cited(32, "CORS children 6-12", "C"),
        }
    )
    # Sources disagree (5, "some editions say 6"): a clinic sets 6 here.
    ors_reliable_change: Cited = cited(5, "ORS reliable change (some editions say 6)", "P")
    # A change of exactly the reliable-change value: reliable (default) or not. Jacobson & Truax
    # state "|RCI| > 1.96" on the continuous index; the published raw-point values (ORS 5,
    # OQ-45.2 14) are that bound rounded to whole points and read as "a change of at least".
    reliable_change_boundary: Boundary = Boundary(
        inclusive=True,
        source="published reliable-change values in points are reached at the value (ORS 5, "
        "OQ-45.2 14: a change of at least); Jacobson & Truax 1991 |RCI| > 1.96 is strict",
        confidence="U",
    )
    oq_norm_set: Literal["US", "NL"] = "US"
    norm_sets: dict[Code, NormSet] = Field(default_factory=lambda: dict(NORM_SETS))
    expected_curves: dict[Code, list[ExpectedCurveBand]] = Field(
        default_factory=lambda: {
            # ORS/CORS, higher = better: improvement = score - intake.
            "ORS": [
                ExpectedCurveBand(
                    name="severe",
                    intake_from=0,
                    intake_to=15,
                    gain_per_log_session=cited(5, _CURVE, "U"),
                    tolerance=cited(5, "ORS reliable change", "P"),
                ),
                ExpectedCurveBand(
                    name="moderate",
                    intake_from=15,
                    intake_to=25,
                    gain_per_log_session=cited(3.5, _CURVE, "U"),
                    tolerance=cited(5, "ORS reliable change", "P"),
                ),
                ExpectedCurveBand(
                    name="mild",
                    intake_from=25,
                    intake_to=40.01,
                    gain_per_log_session=cited(1.5, _CURVE, "U"),
                    tolerance=cited(5, "ORS reliable change", "P"),
                ),
            ],
            # OQ-45.2, higher = worse: improvement = intake - score.
            "OQ-45.2": [
                ExpectedCurveBand(
                    name="severe",
                    intake_from=100,
                    intake_to=180.01,
                    gain_per_log_session=cited(12, _CURVE, "U"),
                    tolerance=cited(14, "OQ-45.2 US RCI", "C"),
                ),
                ExpectedCurveBand(
                    name="moderate",
                    intake_from=63,
                    intake_to=100,
                    gain_per_log_session=cited(8, _CURVE, "U"),
                    tolerance=cited(14, "OQ-45.2 US RCI", "C"),
                ),
                ExpectedCurveBand(
                    name="mild",
                    intake_from=0,
                    intake_to=63,
                    gain_per_log_session=cited(3, _CURVE, "U"),
                    tolerance=cited(14, "OQ-45.2 US RCI", "C"),
                ),
            ],
        }
    )
    # -- termination readiness (decision support)
    readiness_consecutive_recovered: Cited = cited(
        2, "recovered over consecutive administrations (products' approximation)", "P"
    )
    # -- alerts: per kind, switched on or off, priority and escalation
    alert_rules: dict[Code, AlertRule] = Field(default_factory=_alert_rules)
    # -- which rules run (keys: RULES)
    rules_enabled: dict[RuleName, bool] = Field(default_factory=dict)

    @field_validator("alert_rules")
    @classmethod
    def _known_kinds(cls, value: dict[str, AlertRule]) -> dict[str, AlertRule]:
        unknown = sorted(set(value) - set(_alert_rules()))
        if unknown:
            raise ValueError(f"unknown alert kinds {unknown}; kinds are {sorted(_alert_rules())}")
        return value

    @field_validator("rules_enabled", mode="before")
    @classmethod
    def _known_rules(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value  # not a mapping: the field's own validation says so
        unknown = sorted(str(k) for k in set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; rules are {sorted(map(str, RULES))}")
        return value

    def alert_rule(self, kind: str) -> AlertRule:
        return self.alert_rules.get(kind) or AlertRule(enabled=False)

    def enabled(self, rule: RuleName) -> bool:
        return self.rules_enabled.get(rule, True)

    def norm_set(self) -> NormSet:
        return self.norm_sets[self.oq_norm_set]

    def curve_for(self, instrument: str, intake: float) -> ExpectedCurveBand | None:
        key = "ORS" if instrument in ("ORS", "CORS") else instrument
        at = tenths(intake)  # exact: an intake exactly on a band edge opens the upper band
        return next(
            (
                b
                for b in self.expected_curves.get(key, [])
                if threshold_tenths(b.intake_from) <= at < threshold_tenths(b.intake_to)
            ),
            None,
        )


DEFAULT_CONFIG = ClinicalConfig()

# -- which configuration applies to an event
#
# Intake stamps each response with the clinic's latest configuration version when it accepted it
# (scored events and signals carry the same stamp). The configuration in force is the newest of
# the versions up to that stamp whose `effective_from` is not after the event's time. Both are
# fixed in the event, so a replay chooses the same configuration however topics interleave.


@dataclass(frozen=True)
class ConfigVersion:
    version: int
    effective_from: datetime
    config: ClinicalConfig


def in_force(
    versions: Sequence[ConfigVersion], stamped_version: int, administered_at: datetime
) -> ClinicalConfig:
    candidates = [
        v for v in versions if v.version <= stamped_version and v.effective_from <= administered_at
    ]
    return max(candidates, key=lambda v: v.version).config if candidates else DEFAULT_CONFIG

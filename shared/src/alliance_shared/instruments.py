"""Instrument registry as data: scoring keys, item ranges and citations (never item wording).

Pure code, no I/O. Intake validates responses against it; scoring computes scores with it.
Sources and confidence tags: ../shared/reference/instruments.md (Hatcher & Gillaspy 2006 for the
WAI-SR key; Duncan et al. 2003 for the SRS). The full registry (ORS, OQ-45.2, TASC-R, ...) is
grown by the clinical-engine issue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from alliance_shared.events import RespondentRole


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    items: int
    item_min: float
    item_max: float
    decimals: int  # 0: whole numbers only; 1: one decimal (visual analogue scales)
    higher_is_better: bool
    forms: Mapping[str, frozenset[RespondentRole]]  # form -> roles allowed to answer it
    subscales: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    citation: str = ""

    @property
    def total_min(self) -> float:
        return self.items * self.item_min

    @property
    def total_max(self) -> float:
        return self.items * self.item_max

    @property
    def scoring_key(self) -> str:
        return f"{self.code}/{self.version}"


_CLIENT_SIDE = frozenset({RespondentRole.CLIENT, RespondentRole.PARENT})

SRS = Instrument(
    code="SRS",
    version="3.0",
    items=4,
    item_min=0,
    item_max=10,
    decimals=1,
    higher_is_better=True,
    forms={"client": _CLIENT_SIDE},
    citation="Duncan et al. 2003; 4 items 0-10 (one decimal), total 0-40 [C]",
)

WAI_SR = Instrument(
    code="WAI-SR",
    version="2006",
    items=12,
    item_min=1,
    item_max=5,
    decimals=0,
    higher_is_better=True,
    forms={"client": _CLIENT_SIDE, "therapist": frozenset({RespondentRole.THERAPIST})},
    subscales={"task": (1, 2, 10, 12), "bond": (3, 5, 7, 9), "goal": (4, 6, 8, 11)},
    citation="Hatcher & Gillaspy 2006; 12 items 1-5, subscales of 4 items [C]; "
    "therapist form assumed to share the key [P]",
)

REGISTRY: Mapping[str, Instrument] = {i.code: i for i in (SRS, WAI_SR)}


@dataclass(frozen=True)
class Violation:
    """A broken rule: `field` is a dotted path into the submitted payload."""

    field: str
    rule: str


def validate_response(
    instrument_code: str,
    form: str,
    role: RespondentRole,
    answers: Mapping[int, float | None],
) -> list[Violation]:
    instrument = REGISTRY.get(instrument_code)
    if instrument is None:
        return [Violation("instrument", f"must be one of {sorted(REGISTRY)}")]
    problems: list[Violation] = []
    roles = instrument.forms.get(form)
    if roles is None:
        problems.append(
            Violation("form", f"{instrument.code} forms are {sorted(instrument.forms)}")
        )
    elif role not in roles:
        allowed = sorted(r.value for r in roles)
        problems.append(
            Violation("respondent_role", f"{instrument.code} {form} form is answered by {allowed}")
        )
    expected = set(range(1, instrument.items + 1))
    for item in sorted(set(answers) - expected):
        problems.append(
            Violation(f"answers.{item}", f"{instrument.code} has items 1-{instrument.items}")
        )
    for item in sorted(expected - set(answers)):
        problems.append(Violation(f"answers.{item}", "is required"))
    for item, value in sorted(answers.items()):
        if item not in expected:
            continue
        if value is None:
            problems.append(
                Violation(f"answers.{item}", f"{instrument.code} allows no missing items")
            )
            continue
        if not instrument.item_min <= value <= instrument.item_max:
            problems.append(
                Violation(
                    f"answers.{item}",
                    f"must be between {instrument.item_min:g} and {instrument.item_max:g}",
                )
            )
        elif round(value, instrument.decimals) != value:
            rule = "a whole number" if instrument.decimals == 0 else "at most one decimal"
            problems.append(Violation(f"answers.{item}", f"must be {rule}"))
    return problems


@dataclass(frozen=True)
class Score:
    total: float
    subscales: Mapping[str, float]
    normalized: float  # 0-1 share of the total's range, higher = better for alliance scales
    scoring_key: str


def score_response(instrument_code: str, answers: Mapping[int, float | None]) -> Score:
    """Scores a response that passed `validate_response`."""
    instrument = REGISTRY[instrument_code]
    values = {item: float(v) for item, v in answers.items() if v is not None}
    total = round(sum(values.values()), 1)
    subscales = {
        name: round(sum(values[i] for i in items), 1)
        for name, items in instrument.subscales.items()
    }
    share = (total - instrument.total_min) / (instrument.total_max - instrument.total_min)
    normalized = share if instrument.higher_is_better else 1 - share
    return Score(total, subscales, round(normalized, 4), instrument.scoring_key)

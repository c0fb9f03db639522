"""Instrument registry as data: scoring keys, item ranges, missing-item policies and citations.

Never item wording (the instruments are licensed): responses and scoring keys only.
Pure code, no I/O. Intake validates responses against it; scoring computes scores with it.
Every fact comes from ../shared/reference/instruments.md with its confidence tag:
[C] confirmed, [P] probably right, [U] unconfirmed (then it is a documented decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from alliance_contracts.exact import from_tenths, tenths
from alliance_contracts.vocabulary import RespondentRole


class Construct(StrEnum):
    ALLIANCE = "alliance"  # the working relationship (higher = stronger)
    OUTCOME = "outcome"  # symptoms and functioning (progress, recovery, deterioration)


@dataclass(frozen=True)
class MissingPolicy:
    """How many items may be left blank, and how blanks are filled.

    `max_missing` 0: every item is required. Otherwise each blank is replaced by the rounded
    mean of the answered items of its subscale (after reversal), and a form with more blanks than
    `max_missing` is invalid.
    """

    max_missing: int = 0
    citation: str = "every item required"


@dataclass(frozen=True)
class Instrument:
    code: str
    version: str
    construct: Construct
    items: int
    item_min: float
    item_max: float
    decimals: int  # 0: whole numbers only; 1: one decimal (the 0-10 visual analogue scales)
    higher_is_better: bool
    forms: Mapping[str, frozenset[RespondentRole]]  # form -> the roles that answer it
    subscales: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    reverse_items: frozenset[int] = frozenset()  # reversed value = item_min + item_max - x
    critical_items: frozenset[int] = frozenset()  # any answer above item_min needs follow-up
    missing: MissingPolicy = MissingPolicy()
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

    def normalize(self, total: float) -> float:
        """0-1 share of the range, oriented so that 1 is always the good end, to 4 decimals.

        From the total's tenths by one correctly rounded integer division, so equal totals give
        equal shares (no range here has a share that ends in an exact 5 at the 5th decimal)."""
        low, high, at = tenths(self.total_min), tenths(self.total_max), tenths(total)
        good = at - low if self.higher_is_better else high - at
        return round(good / (high - low), 4)

    def subscale_of(self, item: int) -> str | None:
        return next((name for name, items in self.subscales.items() if item in items), None)


def _items(numbers: str) -> tuple[int, ...]:
    return tuple(int(n) for n in numbers.split())


_CLIENT_SIDE = frozenset({RespondentRole.CLIENT, RespondentRole.PARENT})
_CLIENT = frozenset({RespondentRole.CLIENT})
_PARENT = frozenset({RespondentRole.PARENT})
_THERAPIST = frozenset({RespondentRole.THERAPIST})

SRS = Instrument(
    code="SRS",
    version="3.0",
    construct=Construct.ALLIANCE,
    items=4,
    item_min=0,
    item_max=10,
    decimals=1,
    higher_is_better=True,
    forms={"client": _CLIENT_SIDE},
    citation="Duncan et al. 2003: 4 items 0-10 (one decimal), total 0-40, every session [C]",
)

CSRS = Instrument(
    code="CSRS",
    version="1.0",
    construct=Construct.ALLIANCE,
    items=4,
    item_min=0,
    item_max=10,
    decimals=1,
    higher_is_better=True,
    forms={"child": _CLIENT},
    citation="Child SRS (ages 6-12): same structure as the SRS, total 0-40 [C]; cut-off [U]",
)

WAI_SR = Instrument(
    code="WAI-SR",
    version="2006",
    construct=Construct.ALLIANCE,
    items=12,
    item_min=1,
    item_max=5,
    decimals=0,
    higher_is_better=True,
    forms={"client": _CLIENT_SIDE, "therapist": _THERAPIST},
    subscales={"task": (1, 2, 10, 12), "bond": (3, 5, 7, 9), "goal": (4, 6, 8, 11)},
    citation="Hatcher & Gillaspy 2006: 12 items 1-5, task/bond/goal subscales of 4 items [C]; "
    "no reversed items [P]; therapist form shares the key [P]",
)

TASC_R = Instrument(
    code="TASC-R",
    version="R",
    construct=Construct.ALLIANCE,
    items=12,
    item_min=1,
    item_max=4,
    decimals=0,
    higher_is_better=True,
    forms={"child": _CLIENT, "parent": _PARENT, "therapist": _THERAPIST},
    reverse_items=frozenset({2, 5, 7, 8, 11}),
    citation="TASC-R: 12 items 1-4, items 2, 5, 7, 8, 11 reversed (5 - x), total 12-48 "
    "[C, vendor]; parent and therapist forms share the structure [C]; subscales [U]: total only",
)

ORS = Instrument(
    code="ORS",
    version="2.0",
    construct=Construct.OUTCOME,
    items=4,
    item_min=0,
    item_max=10,
    decimals=1,
    higher_is_better=True,
    forms={"client": _CLIENT},
    citation="Miller & Duncan ORS: 4 items 0-10, total 0-40, higher = better, start of every "
    "session [C]",
)

CORS = Instrument(
    code="CORS",
    version="1.0",
    construct=Construct.OUTCOME,
    items=4,
    item_min=0,
    item_max=10,
    decimals=1,
    higher_is_better=True,
    forms={"child": _CLIENT, "caregiver": _PARENT},
    citation="Child ORS (ages 6-12): 4 items 0-10, total 0-40, higher = better [C]",
)

OQ_45 = Instrument(
    code="OQ-45.2",
    version="45.2",
    construct=Construct.OUTCOME,
    items=45,
    item_min=0,
    item_max=4,
    decimals=0,
    higher_is_better=False,
    forms={"client": _CLIENT},
    subscales={
        "symptom_distress": _items(
            "2 3 5 6 8 9 10 11 13 15 22 23 24 25 27 29 31 33 34 35 36 40 41 42 45"
        ),
        "interpersonal_relations": _items("1 7 16 17 18 19 20 26 30 37 43"),
        "social_role": _items("4 12 14 21 28 32 38 39 44"),
    },
    reverse_items=frozenset({1, 12, 13, 20, 21, 24, 31, 37, 43}),
    critical_items=frozenset({8, 11, 26, 32, 44}),
    missing=MissingPolicy(
        max_missing=4,
        citation="blanks take the rounded mean of the rest of their subscale [P]; at most 4 "
        "blanks in all, else invalid (our decision: 4 of 45 is under 10%) [U]",
    ),
    citation="Lambert et al. OQ-45.2: 45 items 0-4, total 0-180, higher = worse [C]; reversed "
    "items 1, 12, 13, 20, 21, 24, 31, 37, 43 (4 - x) [C]; subscale lists [P]; critical items "
    "8, 11, 26, 32, 44 [P]",
)

REGISTRY: Mapping[str, Instrument] = {
    i.code: i for i in (SRS, CSRS, WAI_SR, TASC_R, ORS, CORS, OQ_45)
}


@dataclass(frozen=True)
class Violation:
    """A broken rule: `field` is a dotted path into the submitted payload."""

    field: str
    rule: str


class RuleBroken(Exception):
    """A refusal whose message names fields and rules, never a submitted value: safe to log and
    to put in a dead-letter reason (other errors are reported by their type only)."""


def validate_response(
    instrument_code: str,
    form: str,
    role: RespondentRole,
    answers: Mapping[int, float | None],
    *,
    left_out_is_blank: bool = False,
) -> list[Violation]:
    """The rules a response breaks, each naming its field. Every item must be there: a blank is
    an explicit null, and only where the instrument allows blanks (decision 0028).
    `left_out_is_blank` reads an item left out as a blank instead: only for responses already in
    the log, which intake accepted that way before, so that a replay scores them as they were."""
    instrument = REGISTRY.get(instrument_code)
    if instrument is None:
        return [Violation("instrument", f"must be one of {sorted(REGISTRY)}")]
    if _breaks_nothing(instrument, form, role, answers, left_out_is_blank):
        return []  # the usual case, in one pass; the checks below name what is broken
    problems: list[Violation] = []
    roles = instrument.forms.get(form)
    if roles is None:
        forms = sorted(instrument.forms)
        problems.append(Violation("form", f"{instrument.code} forms are {forms}"))
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
    if left_out_is_blank:
        blanks = sorted(expected - {i for i, v in answers.items() if v is not None})
    else:
        rule = left_out_rule(instrument)
        problems.extend(Violation(f"answers.{i}", rule) for i in sorted(expected - set(answers)))
        blanks = sorted(i for i, v in answers.items() if v is None and i in expected)
    if len(blanks) > instrument.missing.max_missing:
        allowed_blanks = instrument.missing.max_missing
        rule = (
            "is required"
            if allowed_blanks == 0
            else f"is missing: {instrument.code} allows at most {allowed_blanks} blank items"
        )
        problems.extend(Violation(f"answers.{item}", rule) for item in blanks)
    for item, value in sorted(answers.items()):
        if item not in expected or value is None:
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


def _breaks_nothing(
    instrument: Instrument,
    form: str,
    role: RespondentRole,
    answers: Mapping[int, float | None],
    left_out_is_blank: bool,
) -> bool:
    """Whether `validate_response` finds nothing, by the same rules in one pass over the answers
    (scoring checks every response it folds)."""
    roles = instrument.forms.get(form)
    if roles is None or role not in roles:
        return False
    items, low, high, decimals = (
        instrument.items,
        instrument.item_min,
        instrument.item_max,
        instrument.decimals,
    )
    answered = 0
    for item, value in answers.items():
        if not 1 <= item <= items:
            return False
        if value is None:
            continue
        if not low <= value <= high or round(value, decimals) != value:
            return False
        answered += 1
    if not left_out_is_blank and len(answers) != items:
        return False  # an item left out (each key above is one of the items, once)
    return items - answered <= instrument.missing.max_missing


def left_out_rule(instrument: Instrument) -> str:
    """The rule an item left out breaks: required, or to be sent as an explicit blank."""
    if instrument.missing.max_missing == 0:
        return "is required"
    return (
        f"is required: send null to leave it blank (in FHIR, the item without an answer); "
        f"{instrument.code} allows at most {instrument.missing.max_missing} blank items"
    )


@dataclass(frozen=True)
class Score:
    total: float
    subscales: Mapping[str, float]
    normalized: float  # 0-1 share of the range, 1 = the good end (see Instrument.normalize)
    scoring_key: str
    prorated_items: tuple[int, ...] = ()  # blanks filled from their subscale's mean
    critical_items: tuple[int, ...] = ()  # critical items answered above "never"


def _rounded_mean_tenths(answered: list[int]) -> int:
    """The mean of answered items (in tenths), rounded half up to a whole item point, in tenths:
    floor(mean + 1/2) computed on integers, so it is exact."""
    points = (2 * sum(answered) + 10 * len(answered)) // (20 * len(answered))
    return points * 10


def score_response(instrument_code: str, answers: Mapping[int, float | None]) -> Score:
    """Scores a response that passed `validate_response`: reversal, prorating, subscales.

    Sums run on integer tenths (alliance_contracts.exact), so a total does not depend on the
    order its answers were added in."""
    instrument = REGISTRY[instrument_code]
    base = tenths(instrument.item_min + instrument.item_max)
    keyed = {
        item: (base - tenths(v) if item in instrument.reverse_items else tenths(v))
        for item, v in answers.items()
        if v is not None
    }
    blanks = tuple(i for i in range(1, instrument.items + 1) if i not in keyed)
    for item in blanks:
        subscale = instrument.subscale_of(item)
        peers = instrument.subscales[subscale] if subscale else range(1, instrument.items + 1)
        answered = [keyed[i] for i in peers if i in keyed and i not in blanks]
        keyed[item] = _rounded_mean_tenths(answered)
    total = from_tenths(sum(keyed.values()))
    subscales = {
        name: from_tenths(sum(keyed[i] for i in items))
        for name, items in instrument.subscales.items()
    }
    critical = tuple(
        sorted(
            i
            for i in instrument.critical_items
            if (v := answers.get(i)) is not None and tenths(v) > tenths(instrument.item_min)
        )
    )
    return Score(
        total, subscales, instrument.normalize(total), instrument.scoring_key, blanks, critical
    )

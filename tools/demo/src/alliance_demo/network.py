"""Pure generator of a small, plausible clinic network and its questionnaire responses.

No I/O and no clock: the output depends only on the seed and the UTC *day* of `now`, so a
re-run on the same day yields byte-identical submissions (same idempotency keys, same content)
and intake answers each of them as a duplicate.

Shape of the network:

* 2 clinics (`clinic-north`, `clinic-south`), 2-3 therapists each, 2-3 cases per therapist.
* Adult cases: the client rates the SRS every session and the WAI-SR client form every 3rd
  session; the therapist rates the WAI-SR therapist form every 3rd session.
* Child cases: the child (role `client`) and one or two parents/caregivers (role `parent`,
  respondent ids like `case-0007-parent1`) rate the SRS every session.
* 4-8 sessions a week apart, all before `now`.

Alliance trajectories (SRS totals, 0-40; the alert cut-off is 36):

* `growth`: early growth from about 35.5-37.5 to 38.5-40 (most cases).
* `dip`: a V-shaped rupture below 36 in the middle of treatment, then repair.
* `low`: a sustained low alliance (about 27-33) in every session.
* `split` (child cases only): the parents' alliance stays high while the child's drops.

Only pseudonymous ids are generated; no names, no birthdays.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from alliance_shared.events import RespondentRole

CLINIC_IDS = ("clinic-north", "clinic-south")
SRS_CUTOFF = 36.0


class Pattern(StrEnum):
    GROWTH = "growth"
    DIP = "dip"
    LOW = "low"
    SPLIT = "split"


class CaseKind(StrEnum):
    ADULT = "adult"
    CHILD = "child"


@dataclass(frozen=True)
class Clinic:
    clinic_id: str
    therapist_ids: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    clinic_id: str
    case_id: str
    therapist_id: str
    kind: CaseKind
    pattern: Pattern
    sessions: int
    parent_ids: tuple[str, ...]  # respondent ids of the parents/caregivers (child cases)


@dataclass(frozen=True)
class Network:
    seed: int
    anchor: datetime  # 00:00 UTC of the day of `now`; every response is before it
    clinics: tuple[Clinic, ...]
    cases: tuple[Case, ...]
    submissions: tuple[dict[str, Any], ...]  # ResponseSubmission JSON bodies, by time


def generate_submissions(seed: int, now: datetime) -> list[dict[str, Any]]:
    """The network's responses as `POST /v1/responses` JSON bodies, in administration order."""
    return list(build_network(seed, now).submissions)


def build_network(seed: int, now: datetime) -> Network:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    anchor = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    rng = random.Random(seed)

    clinics = tuple(
        Clinic(
            clinic_id,
            tuple(
                f"th-{clinic_id.removeprefix('clinic-')}-{n:02d}"
                for n in range(1, rng.randint(2, 3) + 1)
            ),
        )
        for clinic_id in CLINIC_IDS
    )
    slots = [
        (clinic.clinic_id, therapist_id)
        for clinic in clinics
        for therapist_id in clinic.therapist_ids
        for _ in range(rng.randint(2, 3))
    ]
    specs = _case_specs(len(slots), rng)

    cases: list[Case] = []
    submissions: list[dict[str, Any]] = []
    for number, ((clinic_id, therapist_id), (kind, pattern, parents)) in enumerate(
        zip(slots, specs, strict=True), start=1
    ):
        case_id = f"case-{number:04d}"
        sessions = (
            rng.randint(5, 8) if pattern in (Pattern.DIP, Pattern.SPLIT) else rng.randint(4, 8)
        )
        case = Case(
            clinic_id=clinic_id,
            case_id=case_id,
            therapist_id=therapist_id,
            kind=kind,
            pattern=pattern,
            sessions=sessions,
            parent_ids=tuple(f"{case_id}-parent{p}" for p in range(1, parents + 1)),
        )
        cases.append(case)
        submissions.extend(_case_submissions(case, anchor, rng))

    submissions.sort(key=lambda s: (s["administered_at"], s["idempotency_key"]))
    return Network(seed, anchor, clinics, tuple(cases), tuple(submissions))


def idempotency_key(
    case_id: str, respondent: str, instrument: str, form: str, session_number: int
) -> str:
    """Deterministic, so re-sending the demo is a no-op for intake."""
    return f"demo:{case_id}:{respondent}:{instrument}:{form}:s{session_number:02d}"


def _case_specs(count: int, rng: random.Random) -> list[tuple[CaseKind, Pattern, int]]:
    """(kind, pattern, number of parents) per case. The interesting cases are always there:
    a split child case, a child case with two parents, two sustained lows and two dips."""
    required: list[tuple[CaseKind, Pattern, int]] = [
        (CaseKind.CHILD, Pattern.SPLIT, rng.randint(1, 2)),
        (CaseKind.CHILD, rng.choice([Pattern.GROWTH, Pattern.DIP]), 2),
        (CaseKind.ADULT, Pattern.LOW, 0),
        (rng.choice([CaseKind.ADULT, CaseKind.CHILD]), Pattern.LOW, 0),
        (CaseKind.ADULT, Pattern.DIP, 0),
        (rng.choice([CaseKind.ADULT, CaseKind.CHILD]), Pattern.DIP, 0),
    ]
    specs = required[:count]
    while len(specs) < count:
        kind = CaseKind.CHILD if rng.random() < 0.3 else CaseKind.ADULT
        specs.append((kind, Pattern.GROWTH, 0))
    specs = [
        (kind, pattern, parents or (rng.choice([1, 1, 2]) if kind is CaseKind.CHILD else 0))
        for kind, pattern, parents in specs
    ]
    rng.shuffle(specs)
    return specs


def _trajectory(pattern: Pattern, sessions: int, rng: random.Random) -> list[float]:
    """Expected SRS totals per session, before the respondent's day-to-day noise (at most 1
    point either way, so a dip, a low or a drop stays below the cut-off of 36)."""
    if pattern is Pattern.GROWTH:
        start, gain = rng.uniform(35.5, 37.5), rng.uniform(0.5, 1.1)
        ceiling = rng.uniform(38.5, 39.8)
        return [min(ceiling, start + gain * s) for s in range(sessions)]
    if pattern is Pattern.DIP:  # a rupture in mid-treatment, then repair
        base = rng.uniform(36.8, 38.5)
        bottom = rng.randint(2, sessions - 3)  # index of the lowest session
        floor = rng.uniform(30.5, 34.5)
        before = [min(39.3, base + 0.3 * s) for s in range(sessions)]
        after = [min(39.6, b + 0.8) for b in before]
        shape = {
            bottom - 1: before[bottom - 1] - 0.35 * (before[bottom - 1] - floor),
            bottom: floor,
            bottom + 1: floor + 0.6 * (after[bottom + 1] - floor),
        }
        return [shape.get(s, before[s] if s < bottom else after[s]) for s in range(sessions)]
    if pattern is Pattern.LOW:
        level = rng.uniform(28.0, 32.5)
        return [level + rng.uniform(-1.0, 1.0) for _ in range(sessions)]
    # SPLIT, the child's side: a good start, then a sustained drop.
    start, drop_at = rng.uniform(36.5, 38.0), rng.randint(2, 3)
    low = rng.uniform(29.0, 32.5)
    return [start + 0.3 * s if s < drop_at else low - 0.3 * (s - drop_at) for s in range(sessions)]


def _noisy(totals: Sequence[float], sd: float, rng: random.Random) -> list[float]:
    """Adds day-to-day noise, cut at two standard deviations, and keeps totals in 0-40."""
    return [min(40.0, max(0.0, t + max(-2 * sd, min(2 * sd, rng.gauss(0, sd))))) for t in totals]


def _srs_answers(total: float, rng: random.Random) -> dict[str, float]:
    """Four items 0-10 with one decimal that add up to `total` (rounded to a tenth)."""
    tenths = round(total * 10)
    items = [min(100, max(0, round(tenths / 4 + rng.gauss(0, 3)))) for _ in range(4)]
    # Spread the rounding remainder over the items, never leaving 0-100 tenths.
    diff = tenths - sum(items)
    while diff:
        step = 1 if diff > 0 else -1
        candidates = [i for i, v in enumerate(items) if 0 <= v + step <= 100]
        i = rng.choice(candidates)
        items[i] += step
        diff -= step
    return {str(n): v / 10 for n, v in enumerate(items, start=1)}


def _wai_answers(mean: float, rng: random.Random) -> dict[str, float]:
    """Twelve whole-number items 1-5 around `mean`."""
    return {str(n): min(5, max(1, round(mean + rng.gauss(0, 0.55)))) for n in range(1, 13)}


def _wai_mean(srs_total: float) -> float:
    """WAI-SR item mean that goes with an SRS total (SRS 40 ~ 5, 36 ~ 4.4, 30 ~ 3.5)."""
    return min(5.0, max(1.0, 2.0 + 3.0 * (srs_total - 20.0) / 20.0))


def _case_submissions(case: Case, anchor: datetime, rng: random.Random) -> list[dict[str, Any]]:
    # Weekly sessions on a fixed weekday and hour; the last one 1-10 days before the anchor.
    last_day = anchor - timedelta(days=rng.randint(1, 10))
    hour = rng.randint(8, 17)
    starts = [
        last_day - timedelta(weeks=case.sessions - s) + timedelta(hours=hour)
        for s in range(1, case.sessions + 1)
    ]

    client = _noisy(_trajectory(case.pattern, case.sessions, rng), 0.5, rng)
    parents: dict[str, list[float]] = {}
    for parent_id in case.parent_ids:
        if case.pattern is Pattern.SPLIT:  # the parents stay satisfied with the therapy
            start, ceiling = rng.uniform(37.3, 38.5), rng.uniform(38.8, 39.8)
            high = [min(ceiling, start + 0.4 * s) for s in range(case.sessions)]
            parents[parent_id] = _noisy(high, 0.3, rng)
        else:  # a parent's view follows the child's, a bit more positive
            offset = rng.uniform(0.0, 1.5)
            parents[parent_id] = _noisy([t + offset for t in client], 0.5, rng)
    therapist_bias = rng.uniform(-0.6, 0.0)  # therapists tend to rate a little lower

    out: list[dict[str, Any]] = []

    def add(
        role: RespondentRole,
        respondent_id: str | None,
        instrument: str,
        form: str,
        session: int,
        answers: dict[str, float],
        minutes_after: int,
    ) -> None:
        body: dict[str, Any] = {
            "clinic_id": case.clinic_id,
            "case_id": case.case_id,
            "therapist_id": case.therapist_id,
            "respondent_role": role.value,
        }
        if respondent_id is not None:
            body["respondent_id"] = respondent_id
        at = starts[session - 1] + timedelta(minutes=minutes_after)
        respondent = respondent_id.removeprefix(f"{case.case_id}-") if respondent_id else role.value
        body |= {
            "instrument": instrument,
            "form": form,
            "session_number": session,
            "administered_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "answers": answers,
            "idempotency_key": idempotency_key(case.case_id, respondent, instrument, form, session),
        }
        out.append(body)

    for session in range(1, case.sessions + 1):
        srs_total = client[session - 1]
        # The SRS is given in the last minutes of the session (sessions are 50 minutes).
        add(RespondentRole.CLIENT, None, "SRS", "client", session, _srs_answers(srs_total, rng), 45)
        for n, (parent_id, totals) in enumerate(sorted(parents.items()), start=1):
            add(
                RespondentRole.PARENT,
                parent_id,
                "SRS",
                "client",
                session,
                _srs_answers(totals[session - 1], rng),
                45 + n,
            )
        if case.kind is CaseKind.ADULT and session % 3 == 0:
            mean = _wai_mean(srs_total)
            add(
                RespondentRole.CLIENT,
                None,
                "WAI-SR",
                "client",
                session,
                _wai_answers(mean, rng),
                48,
            )
            add(
                RespondentRole.THERAPIST,
                None,
                "WAI-SR",
                "therapist",
                session,
                _wai_answers(mean + therapist_bias, rng),
                90,
            )
    return out

"""Pure generator of a small, plausible clinic network: questionnaire responses and episode
endings that show every pattern the clinical engine knows.

No I/O and no clock: the output depends only on the seed and the UTC *day* of `now`, so a
re-run on the same day yields byte-identical submissions (same idempotency keys, same content)
and intake answers each of them as a duplicate.

Shape of the network:

* 2 clinics (`clinic-north`, `clinic-south`), 3 therapists each, 2-3 cases per therapist.
* Adults and adolescents (13-17): at the start of every session the client rates an outcome
  measure (ORS, with `age_group` `adolescent` for adolescents; two adult cases use the
  OQ-45.2 instead, sometimes with one item left blank); at the end the client rates the SRS.
  Every 3rd session the client and the therapist rate the WAI-SR (client / therapist form).
* Children (6-12): the child rates the CORS (child form) at the start and the CSRS at the end
  of every session, and the TASC-R child form every 3rd session; the therapist rates the
  TASC-R therapist form every 3rd session. One or two parents/caregivers (role `parent`, ids
  like `case-0007-parent1`) rate the SRS every session; the first parent may also rate the
  CORS caregiver form every session and the TASC-R parent form every 3rd session.
* Weekly sessions, all before `now`. Cases that ended have an episode ending
  (`POST /v1/episode-endings`) after their last session.

Patterns (each at least once per network, spread over both clinics), with the defaults of
`alliance_contracts.clinical_config` (SRS/CSRS cut-off 36, a drop of 1 point opens a rupture,
repair window 6 sessions, ORS cut-offs 25 adult / 28 adolescent / 32 child, reliable change 5,
OQ-45.2 cut-off 63 and reliable change 14):

* `growth`: early growth of the alliance (about 37 to 39.5) and a modest outcome gain that stays
  on the expected curve and in the clinical range; no rupture.
* `repaired-rupture`: a V-shaped rupture in mid-treatment (a drop below 36) that returns to
  the pre-rupture level within 1-3 sessions.
* `unrepaired-rupture`: the alliance drops at session 2-3 and stays low for 6+ sessions, so
  the rupture escalates (unresolved); the outcome stagnates.
* `split` (children): the child's alliance drops and stays low while the parents' stays high.
* `recovery`: the outcome goes from the clinical range to the functional range (reliable
  change) and stays there, with a good alliance: termination readiness, then a planned ending.
* `deterioration`: the outcome gets reliably worse while the alliance looks fine.
* `not-on-track`: a severe intake (OQ-45.2) that stays flat, below the expected curve; the
  client endorses a critical item once (item 8).
* `dropout`: a rupture in session 2-5, then the client stops coming: a unilateral ending.

Only pseudonymous ids are generated; no names, no birthdays.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from statistics import mean

from alliance_contracts.clinical_config import DEFAULT_CONFIG
from alliance_contracts.instruments import OQ_45, TASC_R
from alliance_contracts.vocabulary import AgeGroup, EpisodeEnding, RespondentRole
from alliance_demo.requests import EpisodeEndingRequest, ResponseRequest, Submission

CLINIC_IDS = ("clinic-north", "clinic-south")
THERAPISTS_PER_CLINIC = 3

# The defaults the trajectories are built around (a clinic may override them; the demo's
# clinics use the defaults).
SRS_CUTOFF = DEFAULT_CONFIG.alliance_cutoffs["SRS"].value
ORS_CUTOFFS = {group: c.value for group, c in DEFAULT_CONFIG.ors_cutoffs.items()}
ORS_RELIABLE_CHANGE = DEFAULT_CONFIG.ors_reliable_change.value
OQ_CUTOFF = DEFAULT_CONFIG.norm_set().cutoff.value
OQ_RELIABLE_CHANGE = DEFAULT_CONFIG.norm_set().reliable_change.value
OQ_CRITICAL_ITEM = 8

# Minutes after the session start: outcome first, alliance at the end, therapist afterwards.
AT_OUTCOME, AT_CAREGIVER_OUTCOME = 0, 1
AT_ALLIANCE = 45  # SRS/CSRS of the client; parents at 46, 47
AT_LONG_ALLIANCE, AT_PARENT_LONG_ALLIANCE = 48, 49  # WAI-SR / TASC-R, every 3rd session
AT_THERAPIST = 90


class Pattern(StrEnum):
    GROWTH = "growth"
    REPAIRED_RUPTURE = "repaired-rupture"
    UNREPAIRED_RUPTURE = "unrepaired-rupture"
    SPLIT = "split"
    RECOVERY = "recovery"
    DETERIORATION = "deterioration"
    NOT_ON_TRACK = "not-on-track"
    DROPOUT = "dropout"


class CaseKind(StrEnum):
    ADULT = "adult"
    ADOLESCENT = "adolescent"  # 13-17: adult instruments, ORS with the adolescent cut-off
    CHILD = "child"  # 6-12: child forms, with parents/caregivers


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
    outcome: str  # the client's outcome measure: ORS, CORS or OQ-45.2
    caregiver_outcome: bool  # the first parent also rates the CORS caregiver form
    parent_tasc: bool  # the first parent also rates the TASC-R parent form
    ending: EpisodeEnding | None  # how the episode ended, if it did

    @property
    def age_group(self) -> AgeGroup:
        return AgeGroup(self.kind.value)

    @property
    def alliance(self) -> str:
        """The client's session-by-session alliance measure."""
        return "CSRS" if self.kind is CaseKind.CHILD else "SRS"


@dataclass(frozen=True)
class Network:
    seed: int
    anchor: datetime  # 00:00 UTC of the day of `now`; everything is dated before it
    clinics: tuple[Clinic, ...]
    cases: tuple[Case, ...]
    # Requests by time: responses (`POST /v1/responses`) and episode endings
    # (`POST /v1/episode-endings`).
    submissions: tuple[Submission, ...]

    @property
    def responses(self) -> tuple[ResponseRequest, ...]:
        return tuple(s for s in self.submissions if isinstance(s, ResponseRequest))

    @property
    def endings(self) -> tuple[EpisodeEndingRequest, ...]:
        return tuple(s for s in self.submissions if isinstance(s, EpisodeEndingRequest))


def submitted_at(submission: Submission) -> datetime:
    if isinstance(submission, EpisodeEndingRequest):
        return submission.ended_at
    return submission.administered_at


def generate_submissions(seed: int, now: datetime) -> list[Submission]:
    """The network's request bodies (responses and episode endings) in time order."""
    return list(build_network(seed, now).submissions)


def therapist_ids(clinic_id: str) -> tuple[str, ...]:
    """The clinic's therapists (`th-north-01`, ...): the same in every network."""
    short = clinic_id.removeprefix("clinic-")
    return tuple(f"th-{short}-{n:02d}" for n in range(1, THERAPISTS_PER_CLINIC + 1))


def build_network(seed: int, now: datetime) -> Network:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    anchor = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    rng = random.Random(seed)

    clinics = tuple(Clinic(clinic_id, therapist_ids(clinic_id)) for clinic_id in CLINIC_IDS)
    slots = {
        clinic.clinic_id: [
            therapist_id for therapist_id in clinic.therapist_ids for _ in range(rng.randint(2, 3))
        ]
        for clinic in clinics
    }
    assigned = _assign_specs(slots, rng)

    cases: list[Case] = []
    submissions: list[Submission] = []
    for number, (clinic_id, therapist_id, spec) in enumerate(assigned, start=1):
        case = _case(clinic_id, f"case-{number:04d}", therapist_id, spec, rng)
        cases.append(case)
        submissions.extend(_case_submissions(case, anchor, rng))

    submissions.sort(key=lambda s: (submitted_at(s), s.idempotency_key))
    return Network(seed, anchor, clinics, tuple(cases), tuple(submissions))


def idempotency_key(
    case_id: str, respondent: str, instrument: str, form: str, session_number: int
) -> str:
    """Deterministic, so re-sending the demo is a no-op for intake."""
    return f"demo:{case_id}:{respondent}:{instrument}:{form}:s{session_number:02d}"


def ending_key(case_id: str) -> str:
    return f"demo:{case_id}:episode-ending"


# ----------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class _Spec:
    kind: CaseKind
    pattern: Pattern
    outcome: str = ""  # "" = the kind's usual measure (ORS, or CORS for children)
    parents: int = 0  # children: 0 = one or two at random
    caregiver_outcome: bool | None = None  # children: None = at random
    parent_tasc: bool | None = None  # children: None = at random


_ENDINGS = {Pattern.RECOVERY: EpisodeEnding.PLANNED, Pattern.DROPOUT: EpisodeEnding.UNILATERAL}


def _assign_specs(slots: dict[str, list[str]], rng: random.Random) -> list[tuple[str, str, _Spec]]:
    """(clinic, therapist, spec) per case, in clinic and therapist order. The required cases
    (every pattern, both OQ-45.2 cases, an adolescent, a child with two parents) are dealt
    alternately to the two clinics; the other slots get growth, repair or recovery cases."""
    individual = [CaseKind.ADULT, CaseKind.ADOLESCENT]
    required = [
        _Spec(CaseKind.CHILD, Pattern.SPLIT, parent_tasc=True),
        _Spec(CaseKind.CHILD, Pattern.GROWTH, parents=2, caregiver_outcome=True),
        _Spec(CaseKind.ADULT, Pattern.GROWTH),
        _Spec(CaseKind.ADULT, Pattern.GROWTH, "OQ-45.2"),
        _Spec(rng.choice(individual), Pattern.REPAIRED_RUPTURE),
        _Spec(rng.choice(individual), Pattern.UNREPAIRED_RUPTURE),
        _Spec(CaseKind.ADULT, Pattern.RECOVERY),
        _Spec(rng.choice([*individual, CaseKind.CHILD]), Pattern.DETERIORATION),
        _Spec(CaseKind.ADULT, Pattern.NOT_ON_TRACK, "OQ-45.2"),
        _Spec(CaseKind.ADOLESCENT, Pattern.DROPOUT),
    ]
    rng.shuffle(required)
    free = {clinic_id: list(range(len(therapists))) for clinic_id, therapists in slots.items()}
    chosen: dict[tuple[str, int], _Spec] = {}
    clinic_ids = list(slots)
    for n, spec in enumerate(required):
        clinic_id = clinic_ids[n % len(clinic_ids)]
        index = free[clinic_id].pop(rng.randrange(len(free[clinic_id])))
        chosen[clinic_id, index] = spec
    for clinic_id, indexes in free.items():
        for index in indexes:
            pattern = rng.choice(
                [Pattern.GROWTH] * 3 + [Pattern.REPAIRED_RUPTURE, Pattern.RECOVERY]
            )
            if pattern is Pattern.REPAIRED_RUPTURE:
                kind = rng.choice(individual)
            else:
                kind = rng.choices(list(CaseKind), weights=[5, 2, 3])[0]
            chosen[clinic_id, index] = _Spec(kind, pattern)
    return [
        (clinic_id, therapist_id, chosen[clinic_id, index])
        for clinic_id, therapists in slots.items()
        for index, therapist_id in enumerate(therapists)
    ]


_SESSIONS: dict[Pattern, tuple[int, int]] = {
    Pattern.GROWTH: (4, 8),
    Pattern.REPAIRED_RUPTURE: (6, 9),
    Pattern.UNREPAIRED_RUPTURE: (8, 10),  # a drop at session 2-3 and 6 more sessions
    Pattern.SPLIT: (6, 8),
    Pattern.RECOVERY: (7, 10),
    Pattern.DETERIORATION: (5, 8),
    Pattern.NOT_ON_TRACK: (5, 8),
    Pattern.DROPOUT: (3, 5),
}


def _case(clinic_id: str, case_id: str, therapist_id: str, spec: _Spec, rng: random.Random) -> Case:
    child = spec.kind is CaseKind.CHILD
    parents = (spec.parents or rng.choice([1, 1, 2])) if child else 0
    return Case(
        clinic_id=clinic_id,
        case_id=case_id,
        therapist_id=therapist_id,
        kind=spec.kind,
        pattern=spec.pattern,
        sessions=rng.randint(*_SESSIONS[spec.pattern]),
        parent_ids=tuple(f"{case_id}-parent{p}" for p in range(1, parents + 1)),
        outcome=spec.outcome or ("CORS" if child else "ORS"),
        caregiver_outcome=child and _or_random(spec.caregiver_outcome, rng),
        parent_tasc=child and _or_random(spec.parent_tasc, rng),
        ending=_ENDINGS.get(spec.pattern),
    )


def _or_random(choice: bool | None, rng: random.Random) -> bool:
    return rng.random() < 0.5 if choice is None else choice


# ----------------------------------------------------------------------------- trajectories

Series = list[float]


def _tenth(x: float) -> float:
    return round(x, 1)


def _jitter(rng: random.Random, width: float) -> float:
    return rng.uniform(-width, width)


def _steady(
    series: Series,
    latent: Sequence[float],
    rng: random.Random,
    *,
    floor: float = SRS_CUTOFF + 0.3,
    noise: float = 0.4,
) -> Series:
    """Appends a clean stretch of alliance totals (0-40, tenths) that follows `latent` with a
    little noise and never trips a rupture rule: never below the cut-off, never a point below
    the previous session, never 1.5 below the mean of the course so far."""
    out = list(series)
    for target in latent:
        value = target + _jitter(rng, noise)
        if out:
            value = max(value, out[-1] - 0.6)
        if len(out) >= 3:
            value = max(value, mean(out) - 1.5)
        out.append(_tenth(min(40.0, max(floor, value))))
    return out


def _growth_latent(n: int, rng: random.Random) -> list[float]:
    start, gain = rng.uniform(36.8, 38.0), rng.uniform(0.3, 0.7)
    ceiling = rng.uniform(38.8, 39.8)
    return [min(ceiling, start + gain * s) for s in range(n)]


def _alliance(pattern: Pattern, n: int, rng: random.Random) -> tuple[Series, int | None]:
    """The client's (or child's) SRS/CSRS totals per session, and the session of the drop
    (the rupture), if any."""
    if pattern is Pattern.REPAIRED_RUPTURE:
        drop = rng.randint(3, n - 3)
        repair_after = rng.randint(1, min(3, n - drop - 1))
        series = _steady([], _growth_latent(drop - 1, rng), rng)
        target = series[-1]  # the pre-rupture level
        # Below the cut-off, at least a point down, but under a quarter of the level (a sudden
        # loss would be judged two sessions late, on top of the rupture: it is not the point).
        floor = _tenth(rng.uniform(max(29.5, 0.77 * target), min(34.5, target - 2)))
        series.append(floor)
        for k in range(1, repair_after):
            share = k / repair_after * rng.uniform(0.45, 0.8)
            series.append(_tenth(min(target - 0.5, floor + share * (target - floor))))
        series.append(_tenth(min(40.0, target + rng.uniform(0.2, 1.0))))  # repaired
        rest = n - len(series)
        latent = [min(39.8, series[-1] + 0.2 * (s + 1)) for s in range(rest)]
        return _steady(series, latent, rng), drop
    if pattern in (Pattern.UNREPAIRED_RUPTURE, Pattern.SPLIT, Pattern.DROPOUT):
        if pattern is Pattern.DROPOUT:  # the rupture in one of the last two sessions
            drop = rng.randint(max(2, n - 1), n)
        elif pattern is Pattern.UNREPAIRED_RUPTURE:  # low for the whole repair window
            drop = rng.randint(2, min(3, n - int(DEFAULT_CONFIG.repair_window_sessions.value)))
        else:
            drop = rng.randint(2, 3)
        series = _steady([], _growth_latent(drop - 1, rng), rng)
        level = rng.uniform(29.0, 33.0)
        slide = 0.3 if pattern is Pattern.SPLIT else 0.0
        for s in range(n - drop + 1):  # stays low: never back at the pre-rupture level
            series.append(_tenth(max(20.0, level - slide * s + _jitter(rng, 1.0))))
        return series, drop
    # growth, recovery, deterioration, not on track: a good, growing alliance.
    return _steady([], _growth_latent(n, rng), rng), None


def _follow(child: Series, offset: float, rng: random.Random) -> Series:
    """A parent's SRS that follows the child's clean course, a bit more positive."""
    return _steady([], [min(39.8, t + offset) for t in child], rng, noise=0.3)


def _outcome(
    pattern: Pattern, instrument: str, cutoff: float, n: int, rng: random.Random
) -> Series:
    """The outcome totals per session: ORS/CORS (0-40, tenths, higher = better) or OQ-45.2
    (0-180, whole numbers, higher = worse). The intake (session 1) has no noise."""
    if instrument == "OQ-45.2":
        return _oq_outcome(pattern, n, rng)
    rcv = ORS_RELIABLE_CHANGE
    if pattern is Pattern.RECOVERY:
        intake = rng.uniform(cutoff - 9.0, cutoff - 6.0)
        plateau = rng.uniform(cutoff + 2.5, cutoff + 5.0)
        reached = rng.randint(4, n - 2)  # the session the plateau is reached
        latent = [intake + (plateau - intake) * min(1.0, s / (reached - 1)) for s in range(n)]
        out = [latent[0], *(t + _jitter(rng, 0.5) for t in latent[1:])]
        return [_tenth(max(v, cutoff + 1.0) if s >= reached - 1 else v) for s, v in enumerate(out)]
    if pattern is Pattern.DETERIORATION:
        intake = rng.uniform(cutoff - 7.0, cutoff - 3.0)
        loss = rng.uniform(rcv + 1.5, rcv + 4.0)
        latent = [intake - loss * s / (n - 1) for s in range(n)]
        return [_tenth(latent[0]), *(_tenth(max(1.0, t + _jitter(rng, 0.5))) for t in latent[1:])]
    if pattern is Pattern.NOT_ON_TRACK:  # severe and flat
        intake = rng.uniform(7.0, 12.5)
        return [_tenth(intake), *(_tenth(intake + _jitter(rng, 1.2)) for _ in range(n - 1))]
    if pattern in (Pattern.UNREPAIRED_RUPTURE, Pattern.DROPOUT):  # stagnates
        intake, gain = rng.uniform(cutoff - 9.5, cutoff - 6.0), rng.uniform(0.0, 0.3)
    else:  # growth (also around a repaired rupture or a split): on track, still clinical
        intake, gain = rng.uniform(cutoff - 9.5, cutoff - 7.0), rng.uniform(0.6, 0.9)
    cap = cutoff - 0.5
    latent = [min(cap - 0.1, intake + gain * s) for s in range(n)]
    return [_tenth(intake), *(_tenth(min(cap, t + _jitter(rng, 0.5))) for t in latent[1:])]


def _oq_outcome(pattern: Pattern, n: int, rng: random.Random) -> Series:
    def around(latent: Sequence[float], noise: float) -> Series:
        return [
            float(round(latent[0])),
            *(float(round(t + _jitter(rng, noise))) for t in latent[1:]),
        ]

    if pattern is Pattern.NOT_ON_TRACK:  # severe intake, flat
        intake = rng.randint(104, 118)
        return around([intake] * n, 4.0)
    if pattern is Pattern.RECOVERY:
        intake, goal = rng.randint(75, 88), rng.randint(46, 56)
        reached = rng.randint(4, n - 2)
        latent = [intake - (intake - goal) * min(1.0, s / (reached - 1)) for s in range(n)]
        return [
            min(v, OQ_CUTOFF - 4) if s >= reached - 1 else v
            for s, v in enumerate(around(latent, 2.0))
        ]
    if pattern is Pattern.DETERIORATION:
        intake = rng.randint(70, 85)
        gain = rng.uniform(OQ_RELIABLE_CHANGE + 3, OQ_RELIABLE_CHANGE + 8)
        return around([intake + gain * s / (n - 1) for s in range(n)], 2.0)
    if pattern in (Pattern.UNREPAIRED_RUPTURE, Pattern.DROPOUT):
        intake = rng.randint(80, 95)
        return around([intake] * n, 2.5)
    # growth: on track (moderate band), still in the clinical range
    intake, gain = rng.randint(80, 92), rng.uniform(2.2, 3.2)
    latent = [max(OQ_CUTOFF + 3.5, intake - gain * s) for s in range(n)]
    return [max(v, OQ_CUTOFF + 1) for v in around(latent, 2.5)]


# ----------------------------------------------------------------------------- answers


Answers = dict[int, float | None]  # item number to the answer; None: left blank


def _vas_answers(total: float, rng: random.Random) -> Answers:
    """Four items 0-10 with one decimal that add up to `total` (rounded to a tenth): the SRS,
    CSRS, ORS and CORS."""
    tenths = round(total * 10)
    items = [min(100, max(0, round(tenths / 4 + rng.gauss(0, 3)))) for _ in range(4)]
    return {n: v / 10 for n, v in enumerate(_spread(items, tenths, 0, 100, rng), start=1)}


def _spread(items: list[int], total: int, lo: int, hi: int, rng: random.Random) -> list[int]:
    """Moves items a step at a time, never leaving lo-hi, until they add up to `total`."""
    items = list(items)
    diff = total - sum(items)
    while diff:
        step = 1 if diff > 0 else -1
        i = rng.choice([i for i, v in enumerate(items) if lo <= v + step <= hi])
        items[i] += step
        diff -= step
    return items


def _whole_items(total: int, count: int, lo: int, hi: int, rng: random.Random) -> list[int]:
    """`count` whole-number items lo-hi around their mean that add up to `total` exactly."""
    total = min(count * hi, max(count * lo, total))
    items = [min(hi, max(lo, round(total / count + rng.gauss(0, 0.5)))) for _ in range(count)]
    return _spread(items, total, lo, hi, rng)


def _wai_answers(share: float, rng: random.Random) -> Answers:
    """WAI-SR, 12 items 1-5, whose total sits at `share` of the range (no reversed items)."""
    items = _whole_items(round(12 + 48 * share), 12, 1, 5, rng)
    return {n: float(v) for n, v in enumerate(items, start=1)}


def _tasc_answers(share: float, rng: random.Random) -> Answers:
    """TASC-R, 12 items 1-4 with items 2, 5, 7, 8, 11 reversed: the keyed total sits at
    `share` of the range."""
    keyed = _whole_items(round(12 + 36 * share), 12, 1, 4, rng)
    return {
        n: float(5 - v if n in TASC_R.reverse_items else v) for n, v in enumerate(keyed, start=1)
    }


def _oq_answers(
    total: float, rng: random.Random, *, blank: bool = False, critical: bool = False
) -> Answers:
    """OQ-45.2, 45 items 0-4 (higher = worse, reversed items keyed 4 - x) adding up to `total`.
    The critical items (substance use, suicidal thoughts, violence) are answered "never",
    except item 8 once when `critical`; a `blank` item is sent as null (scoring prorates it)."""
    critical_items = OQ_45.critical_items
    others = [i for i in range(1, 46) if i not in critical_items]
    keyed = dict(zip(others, _whole_items(round(total), len(others), 0, 4, rng), strict=True))
    keyed |= dict.fromkeys(critical_items, 0)
    if critical:
        keyed[OQ_CRITICAL_ITEM] = 1
    answers: Answers = {
        i: float(4 - v if i in OQ_45.reverse_items else v) for i, v in sorted(keyed.items())
    }
    if blank:
        answers[rng.choice(others)] = None
    return answers


# ----------------------------------------------------------------------------- submissions


def _case_submissions(case: Case, anchor: datetime, rng: random.Random) -> list[Submission]:
    n = case.sessions
    # Weekly sessions on a fixed weekday and hour; the last one 1-10 days before the anchor.
    # A dropout's last session is longer ago: the ending is recorded two weeks later.
    dropout = case.ending is EpisodeEnding.UNILATERAL
    last_day = anchor - timedelta(days=rng.randint(16, 30) if dropout else rng.randint(1, 10))
    hour = rng.randint(8, 17)
    starts = [last_day - timedelta(weeks=n - s) + timedelta(hours=hour) for s in range(1, n + 1)]

    client, _ = _alliance(case.pattern, n, rng)
    parents: dict[str, Series] = {}
    for parent_id in case.parent_ids:
        if case.pattern is Pattern.SPLIT:  # the parents stay satisfied with the therapy
            start, ceiling = rng.uniform(37.3, 38.5), rng.uniform(38.8, 39.8)
            parents[parent_id] = _steady(
                [], [min(ceiling, start + 0.4 * s) for s in range(n)], rng, noise=0.3
            )
        else:  # a parent's view follows the child's, a bit more positive
            parents[parent_id] = _follow(client, rng.uniform(0.0, 1.0), rng)
    therapist_bias = rng.uniform(-0.06, 0.0)  # therapists tend to rate a little lower

    cutoff = OQ_CUTOFF if case.outcome == "OQ-45.2" else ORS_CUTOFFS[case.age_group.value]
    outcome = _outcome(case.pattern, case.outcome, cutoff, n, rng)
    caregiver: Series = []
    if case.caregiver_outcome:
        offset = rng.uniform(-2.0, 0.5)
        cap = 40.0 if case.pattern is Pattern.RECOVERY else cutoff - 0.5
        caregiver = [
            _tenth(min(cap, max(0.0, t + offset + (_jitter(rng, 0.4) if s else 0.0))))
            for s, t in enumerate(outcome)
        ]
    blanks: set[int] = set()
    critical_session = None
    if case.outcome == "OQ-45.2":
        blanks = {s for s in range(1, n + 1) if rng.random() < 0.15}
        if case.pattern is Pattern.GROWTH and not blanks:
            blanks = {rng.randint(1, n)}
        if case.pattern is Pattern.NOT_ON_TRACK:
            critical_session = rng.randint(2, n)

    out: list[Submission] = []

    def add(
        role: RespondentRole,
        respondent_id: str | None,
        instrument: str,
        form: str,
        session: int,
        answers: Answers,
        minutes_after: int,
        *,
        age_group: AgeGroup | None = None,
    ) -> None:
        respondent = respondent_id.removeprefix(f"{case.case_id}-") if respondent_id else role.value
        out.append(
            ResponseRequest(
                clinic_id=case.clinic_id,
                case_id=case.case_id,
                therapist_id=case.therapist_id,
                respondent_role=role,
                respondent_id=respondent_id,
                instrument=instrument,
                form=form,
                session_number=session,
                administered_at=starts[session - 1] + timedelta(minutes=minutes_after),
                answers=answers,
                age_group=age_group,
                idempotency_key=idempotency_key(
                    case.case_id, respondent, instrument, form, session
                ),
            )
        )

    client_role, therapist = RespondentRole.CLIENT, RespondentRole.THERAPIST
    first_parent = case.parent_ids[0] if case.parent_ids else None
    for s in range(1, n + 1):
        total, third = client[s - 1], s % 3 == 0
        # Outcome at the start of the session.
        if case.outcome == "OQ-45.2":
            oq = _oq_answers(outcome[s - 1], rng, blank=s in blanks, critical=s == critical_session)
            add(client_role, None, "OQ-45.2", "client", s, oq, AT_OUTCOME, age_group=case.age_group)
        else:
            form = "child" if case.outcome == "CORS" else "client"
            answers = _vas_answers(outcome[s - 1], rng)
            add(
                client_role,
                None,
                case.outcome,
                form,
                s,
                answers,
                AT_OUTCOME,
                age_group=case.age_group,
            )
        if first_parent is not None and caregiver:
            add(
                RespondentRole.PARENT,
                first_parent,
                "CORS",
                "caregiver",
                s,
                _vas_answers(caregiver[s - 1], rng),
                AT_CAREGIVER_OUTCOME,
                age_group=case.age_group,
            )
        # Alliance at the end of the session.
        if case.kind is CaseKind.CHILD:
            add(client_role, None, "CSRS", "child", s, _vas_answers(total, rng), AT_ALLIANCE)
        else:
            add(client_role, None, "SRS", "client", s, _vas_answers(total, rng), AT_ALLIANCE)
        for k, (parent_id, totals) in enumerate(sorted(parents.items()), start=1):
            answers = _vas_answers(totals[s - 1], rng)
            add(RespondentRole.PARENT, parent_id, "SRS", "client", s, answers, AT_ALLIANCE + k)
        if not third:
            continue
        share = total / 40
        if case.kind is CaseKind.CHILD:
            add(
                client_role, None, "TASC-R", "child", s, _tasc_answers(share, rng), AT_LONG_ALLIANCE
            )
            if first_parent is not None and case.parent_tasc:
                parent_share = parents[first_parent][s - 1] / 40
                add(
                    RespondentRole.PARENT,
                    first_parent,
                    "TASC-R",
                    "parent",
                    s,
                    _tasc_answers(parent_share, rng),
                    AT_PARENT_LONG_ALLIANCE,
                )
            answers = _tasc_answers(max(0.0, share + therapist_bias), rng)
            add(therapist, None, "TASC-R", "therapist", s, answers, AT_THERAPIST)
        else:
            add(
                client_role,
                None,
                "WAI-SR",
                "client",
                s,
                _wai_answers(_wai_share(total), rng),
                AT_LONG_ALLIANCE,
            )
            answers = _wai_answers(max(0.0, _wai_share(total) + therapist_bias), rng)
            add(therapist, None, "WAI-SR", "therapist", s, answers, AT_THERAPIST)

    if case.ending is not None:
        # Planned: recorded after the closing session. Unilateral: the client missed the next
        # two appointments and the therapist closed the episode.
        after = timedelta(hours=2) if case.ending is EpisodeEnding.PLANNED else timedelta(days=14)
        out.append(
            EpisodeEndingRequest(
                clinic_id=case.clinic_id,
                case_id=case.case_id,
                therapist_id=case.therapist_id,
                ending=case.ending,
                ended_at=starts[-1] + after,
                last_session_number=n,
                idempotency_key=ending_key(case.case_id),
            )
        )
    return out


def _wai_share(srs_total: float) -> float:
    """WAI-SR share of the range that goes with an SRS total (SRS 40 ~ 1, 36 ~ 0.85, 30 ~ 0.63;
    the WAI-SR is a little less generous than the SRS)."""
    return min(1.0, max(0.0, (srs_total - 13.0) / 27.0))

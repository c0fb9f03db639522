"""The bench's workload: N valid ResponseSubmitted events over about N/10 cases (see
bench/README.md), the same every time for a given seed."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alliance_contracts.events import ResponseSubmitted, ResponseSubmittedPayload
from alliance_contracts.instruments import validate_response
from alliance_contracts.vocabulary import RespondentRole

T0 = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    clinic_id: str
    case_id: str
    therapist_id: str
    child: bool  # a child client: a parent or caregiver answers too

    def submissions(self, session: int) -> list[tuple[RespondentRole, str | None, str, str]]:
        """(role, respondent id, instrument, form) submitted at this session: SRS every
        session, WAI-SR (client side and therapist) every third session."""
        out: list[tuple[RespondentRole, str | None, str, str]] = [
            (RespondentRole.CLIENT, None, "SRS", "client")
        ]
        if self.child:
            out.append((RespondentRole.PARENT, "p1", "SRS", "client"))
        if session % 3 == 1:
            out.append((RespondentRole.CLIENT, None, "WAI-SR", "client"))
            if self.child:
                out.append((RespondentRole.PARENT, "p1", "WAI-SR", "client"))
            out.append((RespondentRole.THERAPIST, None, "WAI-SR", "therapist"))
        return out


def generate_events(
    n: int, seed: int, case_prefix: str = "case"
) -> tuple[list[ResponseSubmitted], int]:
    """N valid events over N/10 cases, session after session (so each case's events are in
    session order); returns the events and the number of cases. Another `case_prefix` gives
    new cases (the live-latency phases add them beside the pre-filled ones)."""
    rng = random.Random(seed)
    cases = [
        Case(
            clinic_id=f"clinic-{i % 20:02d}",
            case_id=f"{case_prefix}-{i:06d}",
            therapist_id=f"th-{i % 20:02d}-{rng.randrange(8)}",
            child=rng.random() < 0.3,
        )
        for i in range(max(1, n // 10))
    ]
    events: list[ResponseSubmitted] = []
    session = 0
    while len(events) < n:
        session += 1
        for case in cases:
            submissions = case.submissions(session)
            # Administered in the order they are sent: each case's events arrive in clinical
            # order, the usual case (a late one makes scoring fold the case again).
            minutes = sorted(rng.randrange(600) for _ in submissions)
            for (role, respondent_id, instrument, form), minute in zip(
                submissions, minutes, strict=True
            ):
                if instrument == "SRS":
                    answers: dict[int, float | None] = {
                        i: round(rng.uniform(0, 10), 1) for i in range(1, 5)
                    }
                else:
                    answers = {i: float(rng.randint(1, 5)) for i in range(1, 13)}
                problems = validate_response(instrument, form, role, answers)
                if problems:
                    raise RuntimeError(f"generated an invalid response: {problems}")
                at = T0 + timedelta(weeks=session, minutes=minute)
                events.append(
                    ResponseSubmitted(
                        event_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                        clinic_id=case.clinic_id,
                        case_id=case.case_id,
                        occurred_at=at,
                        recorded_at=at + timedelta(seconds=rng.randrange(1, 300)),
                        payload=ResponseSubmittedPayload(
                            therapist_id=case.therapist_id,
                            respondent_role=role,
                            respondent_id=respondent_id,
                            instrument=instrument,
                            form=form,
                            session_number=session,
                            administered_at=at,
                            answers=answers,
                        ),
                    )
                )
                if len(events) == n:
                    return events, len(cases)
    return events, len(cases)

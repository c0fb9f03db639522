"""The demo network's people, for the local stack's sign-in page (`alliance_devstack.issuer`):
who may sign in, with their role and clinics. Pseudonymous ids, as everywhere."""

from __future__ import annotations

from dataclasses import dataclass

from alliance_contracts.access import Role
from alliance_demo.network import CLINIC_IDS, therapist_ids


@dataclass(frozen=True)
class Person:
    subject: str
    role: Role
    clinics: tuple[str, ...]


def demo_people() -> tuple[Person, ...]:
    """Both clinics' supervisor (the one `./dev up` prints a token for) and network admin, then
    per clinic its supervisor, its clinic admin and every therapist: each holds other demo
    patterns (with the default seed the split-alliance case is `th-north-03`'s), and a
    clinician sees only their own caseload."""
    people = [
        Person("demo-supervisor", Role.SUPERVISOR, CLINIC_IDS),
        Person("demo-network-admin", Role.NETWORK_ADMIN, CLINIC_IDS),
    ]
    for clinic_id in CLINIC_IDS:
        short = clinic_id.removeprefix("clinic-")
        people += [
            Person(f"sup-{short}", Role.SUPERVISOR, (clinic_id,)),
            Person(f"admin-{short}", Role.CLINIC_ADMIN, (clinic_id,)),
            *(
                Person(therapist, Role.CLINICIAN, (clinic_id,))
                for therapist in therapist_ids(clinic_id)
            ),
        ]
    return tuple(people)

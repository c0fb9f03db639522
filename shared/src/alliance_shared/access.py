"""Who may read what. Pure: the rules; the SQL scoping that enforces them is in adapters.

- clinician: client-level data of their own caseload only (cases they rate or are assigned);
- supervisor, clinic_admin: client-level data of their clinics; clinic admins also the audit
  trail of their clinics;
- network_admin: aggregates across the network's clinics; client-level data only of clinics
  they are also scoped to (the `clinics` claim).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CLINICIAN = "clinician"
    SUPERVISOR = "supervisor"
    CLINIC_ADMIN = "clinic_admin"
    NETWORK_ADMIN = "network_admin"


class NotAllowed(Exception):
    """The caller may not see this. Shown to clients as 'not found or not allowed' so that the
    existence of other clinics' data does not leak."""

    def __init__(self, message: str = "not found or not allowed") -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Caller:
    subject: str
    role: Role
    clinics: frozenset[str]

    @property
    def caseload_only(self) -> bool:
        return self.role is Role.CLINICIAN

    def may_read_clients(self, clinic_id: str) -> bool:
        return clinic_id in self.clinics

    def may_read_aggregates(self, clinic_id: str) -> bool:
        return self.role is Role.NETWORK_ADMIN or (
            self.role in (Role.SUPERVISOR, Role.CLINIC_ADMIN) and clinic_id in self.clinics
        )

    def may_read_audit(self, clinic_id: str) -> bool:
        return self.role is Role.CLINIC_ADMIN and clinic_id in self.clinics

    def may_command(self, clinic_id: str) -> bool:
        """Acknowledge or resolve alerts, record endings: staff of the clinic (clinicians for
        their caseload, checked where the case is read)."""
        return clinic_id in self.clinics and self.role is not Role.NETWORK_ADMIN

    def may_assign(self, clinic_id: str) -> bool:
        return clinic_id in self.clinics and self.role in (Role.SUPERVISOR, Role.CLINIC_ADMIN)

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise NotAllowed()

"""Who may read and write what. Pure: the rules; the SQL scoping that enforces reads is in
the gateway's adapters.

Two kinds of caller, both known from a verified bearer token:

- people (`Caller`), with one role:
- clinician: client-level data of their own caseload only (cases they rate or are assigned);
- supervisor, clinic_admin: client-level data of their clinics; clinic admins also the audit
  trail of their clinics, and they alone amend or void a clinic's responses;
- network_admin: aggregates across the network's clinics; client-level data only of clinics
  they are also scoped to (the `clinics` claim);
- clinic systems (`ClinicSystem`: EHR integrations with machine tokens, as an OAuth2
  client-credentials flow issues them): they write to intake for the clinics of their token,
  within their scopes, and read nothing.
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


class Scope(StrEnum):
    """What a clinic system's token allows at intake."""

    RESPONSES_WRITE = "responses:write"  # responses and episode endings
    CLINIC_ADMIN = "clinic:admin"  # configuration, staff roster, case assignments


@dataclass(frozen=True)
class Caller:
    """A person."""

    subject: str
    role: Role
    clinics: frozenset[str]
    expires_at: int | None = None  # the token's `exp` (Unix seconds)

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

    def may_correct_responses(self, clinic_id: str) -> bool:
        """Amend or void a submitted response: the clinic's admins only (it re-folds the case
        and withdraws what depended on the response)."""
        return clinic_id in self.clinics and self.role is Role.CLINIC_ADMIN

    def require(self, allowed: bool) -> None:
        if not allowed:
            raise NotAllowed()


@dataclass(frozen=True)
class ClinicSystem:
    """A clinic system (machine token): `subject` is the OAuth2 client id."""

    subject: str
    clinics: frozenset[str]
    scopes: frozenset[Scope]
    expires_at: int | None = None


Principal = Caller | ClinicSystem


def write_refusal(principal: Principal, clinic_id: str, scope: Scope) -> str | None:
    """Why `principal` may not write `scope` data for `clinic_id`, or None when it may.

    Clinic systems need the clinic in their token and the scope; people only ever get the
    `clinic:admin` endpoints, as clinic admins of the clinic."""
    if clinic_id not in principal.clinics:
        return f"the token does not cover clinic {clinic_id!r}"
    if isinstance(principal, ClinicSystem):
        if scope not in principal.scopes:
            return f"the token lacks the scope {scope.value!r}"
        return None
    if scope is Scope.CLINIC_ADMIN and principal.role is Role.CLINIC_ADMIN:
        return None
    return f"the token lacks the scope {scope.value!r} (people: clinic admins, for clinic:admin)"

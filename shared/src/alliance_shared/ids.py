"""Identifier types. Only pseudonymous ids travel on the wire: never names, emails or birthdays.

The pattern admits opaque tokens (letters, digits, `-`, `_`, `.`, `:`), which rules out spaces and
`@`, so a full name or an e-mail address cannot be sent by mistake where an id is expected.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

PSEUDONYMOUS_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

PseudonymousId = Annotated[
    str, StringConstraints(pattern=PSEUDONYMOUS_ID_PATTERN, min_length=1, max_length=64)
]
ClinicId = PseudonymousId
CaseId = PseudonymousId
TherapistId = PseudonymousId

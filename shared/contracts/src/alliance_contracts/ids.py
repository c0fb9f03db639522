"""Identifier and text types. Only pseudonymous ids travel on the wire: never names, emails or
birthdays.

The pattern admits opaque tokens (letters, digits, `-`, `_`, `.`, `:`), which rules out spaces and
`@`, so a full name or an e-mail address cannot be sent by mistake where an id is expected.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints

PSEUDONYMOUS_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

PseudonymousId = Annotated[
    str, StringConstraints(pattern=PSEUDONYMOUS_ID_PATTERN, min_length=1, max_length=64)
]
ClinicId = PseudonymousId
CaseId = PseudonymousId
TherapistId = PseudonymousId

# A client's key for a write: a retry with it is a no-op. Printable ASCII, no spaces.
IdempotencyKey = Annotated[
    str, StringConstraints(min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$")
]


def _no_control_characters(text: str) -> str:
    # NUL cannot be stored by PostgreSQL; other control characters are never meant.
    if any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise ValueError("must not contain control characters")
    return text


# A short code from a fixed vocabulary that is checked later (an instrument, a form, a key of a
# clinic's configuration): bounded here so an unknown one is refused cheaply.
Code = Annotated[str, StringConstraints(min_length=1, max_length=32)]

# Free text: bounded, without control characters.
Citation = Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_control_characters)]
Note = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_control_characters)]

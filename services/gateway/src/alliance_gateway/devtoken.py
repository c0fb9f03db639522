"""Issues development tokens (HS256, accepted only when the gateway runs in dev mode).

python -m alliance_gateway.devtoken --sub th-07 --role clinician --clinic clinic-north
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jwt

from alliance_shared.access import Role


def issue(secret: str, subject: str, role: Role, clinics: list[str], hours: float = 8) -> str:
    now = int(time.time())
    claims = {
        "sub": subject,
        "role": role.value,
        "clinics": clinics,
        "iat": now,
        "exp": now + int(hours * 3600),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sub", required=True, help="the user's pseudonymous id")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--clinic", action="append", default=[], help="repeat for several")
    parser.add_argument("--hours", type=float, default=8)
    parser.add_argument("--secret", default=os.environ.get("ALLIANCE_DEV_JWT_SECRET"))
    args = parser.parse_args()
    if not args.secret:
        parser.error("--secret or ALLIANCE_DEV_JWT_SECRET is required")
    print(issue(args.secret, args.sub, Role(args.role), args.clinic, args.hours))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Webhook delivery rules, pure: the signature, the retry schedule, which notices are live.

Signature (like Stripe's): header `X-Alliance-Signature: t=<unix seconds>,v1=<hex>` where
hex = HMAC-SHA256(secret, f"{t}.{body}"). Receivers recompute it and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_HEADER = "X-Alliance-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, now: int, tolerance_s: int = 300) -> bool:
    """What a receiver does (used by our tests and documented for clinics)."""
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header)


def next_attempt(attempts: int, now: datetime, base_s: float, cap_s: float) -> datetime:
    """Exponential backoff: base, 2 base, 4 base, ... capped."""
    return now + timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def is_live(recorded_at: datetime, now: datetime, window: timedelta) -> bool:
    """Only notices recorded recently are delivered: a replay of old history sends nothing."""
    return now - recorded_at <= window

"""Webhook delivery rules, pure: the signature, which addresses may receive, the retry
schedule, which notices are live.

Signatures follow the Standard Webhooks specification (https://www.standardwebhooks.com/), so a
clinic verifies them with a stock library: headers `webhook-id` (the notice id),
`webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` over
`id.timestamp.body`), secrets `whsec_<base64>`. While a secret is being rotated the header
carries one signature per valid secret, separated by a space.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
RESOLVE_TIMEOUT_S = 5.0  # the most an address lookup may take

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def secret_from_bytes(raw: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def signature_headers(
    notice_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The Standard Webhooks headers, signed with each valid secret (newest first)."""
    at = datetime.fromtimestamp(timestamp, UTC)
    signatures = [Webhook(s).sign(notice_id, at, body.decode()) for s in secrets]
    return {
        "webhook-id": notice_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


# IPv6 that is public by its prefix but reaches IPv4 through a gateway: NAT64, 6to4, Teredo.
_TUNNELS = tuple(
    ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")


def address_refusal(addresses: Iterable[IPAddress], allowed: Sequence[IPNetwork]) -> str | None:
    """Why a host resolving to `addresses` may not receive webhooks, or None.

    Refused: loopback, private, link-local, multicast, reserved, unspecified and shared
    addresses, IPv4 inside IPv6 (mapped, compatible, translated) and IPv6 tunnels to IPv4,
    unless an allowed network names them. Every address must pass: a host that resolves to one
    public and one internal address is refused. The message does not say which address (it
    would map the internal network for whoever registers names)."""
    found = list(addresses)
    if not found:
        return "the host does not resolve"
    for address in found:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in allowed):
            continue
        if isinstance(address, ipaddress.IPv6Address) and (
            address not in _GLOBAL_UNICAST_V6 or any(address in t for t in _TUNNELS)
        ):
            return "the host resolves to a non-public address"
        if not address.is_global or address.is_multicast:
            return "the host resolves to a non-public address"
    return None


def allowed_http(addresses: Iterable[IPAddress], allowed: Sequence[IPNetwork]) -> bool:
    """Plain http only to explicitly allowed networks (a test receiver, an internal relay)."""
    found = list(addresses)
    return bool(found) and all(any(a in n for n in allowed) for a in found)


def next_attempt(attempts: int, now: datetime, base_s: float, cap_s: float) -> datetime:
    """Exponential backoff: base, 2 base, 4 base, ... capped."""
    return now + timedelta(seconds=min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def is_live(recorded_at: datetime, now: datetime, window: timedelta) -> bool:
    """Only notices recorded recently are delivered: a replay of old history sends nothing."""
    return now - recorded_at <= window


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 10  # 30 s, 1, 2, 4, 8, 16, 32 min, then hourly: about 3 h in all
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    timeout_s: float = 5.0
    live_window: timedelta = timedelta(hours=24)
    rotation_overlap: timedelta = timedelta(hours=24)
    # Networks that may receive although not public (and may use plain http).
    allow_networks: tuple[IPNetwork, ...] = ()

    @property
    def attempt_s(self) -> float:
        """The most one attempt may take, the lookup included."""
        return self.timeout_s + RESOLVE_TIMEOUT_S

    @property
    def lease(self) -> timedelta:
        """How long a worker holds the deliveries it sends: longer than any attempt."""
        return timedelta(seconds=self.attempt_s * 2)


class EndpointRefused(Exception):
    """The URL may not receive webhooks; the message names the rule."""


class RotationInProgress(Exception):
    """The previous secret is still valid: rotating again would cut off the one the clinic may
    still use."""

    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


@dataclass(frozen=True)
class Outcome:
    """What an attempt's result makes of a delivery."""

    status: str  # pending, delivered, dead
    next_attempt_at: datetime
    error: str | None


def after_attempt(result: str, attempts: int, now: datetime, policy: DeliveryPolicy) -> Outcome:
    """`result`: the HTTP status, `timeout`, `refused: …` or `error: …`; `attempts`: with this
    one. 2xx delivers; the last failed attempt makes it dead; otherwise back off."""
    if result.startswith("2"):
        return Outcome("delivered", now, None)
    if attempts >= policy.max_attempts:
        return Outcome("dead", now, result)
    return Outcome(
        "pending", next_attempt(attempts, now, policy.backoff_base_s, policy.backoff_cap_s), result
    )

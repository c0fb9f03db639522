"""The HTTP side of webhooks: resolve and check an endpoint's address, and send a delivery to
the address that was checked (not to a second lookup of the name)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

from alliance_alerts.domain.webhooks import (
    RESOLVE_TIMEOUT_S,
    DeliveryPolicy,
    EndpointRefused,
    IPAddress,
    address_refusal,
    allowed_http,
)


@dataclass(frozen=True)
class Target:
    """Where a request really goes: the checked address, with the name for Host and TLS."""

    url: str  # with the checked IP address as host
    host_header: str
    tls_name: str | None


async def resolve(url: str) -> list[IPAddress]:
    parts = urlsplit(url)
    if not parts.hostname:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            infos = await asyncio.get_running_loop().getaddrinfo(
                parts.hostname, port, type=socket.SOCK_STREAM
            )
    except (OSError, UnicodeError, TimeoutError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_endpoint(url: str, policy: DeliveryPolicy) -> Target:
    """Resolves the host and refuses internal addresses (SSRF) and plain http to the public.
    The request then goes to the address checked here, not to a second lookup of the name (a
    name that resolves differently the next time cannot steer it inward)."""
    addresses = await resolve(url)
    if refusal := address_refusal(addresses, policy.allow_networks):
        raise EndpointRefused(refusal)
    parts = urlsplit(url)
    if parts.scheme != "https" and not allowed_http(addresses, policy.allow_networks):
        raise EndpointRefused("must be https")
    address = addresses[0]
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{host}:{parts.port}" if parts.port else host
    host_header = parts.netloc.rsplit("@", 1)[-1]
    tls_name = parts.hostname if parts.scheme == "https" else None
    return Target(urlunsplit(parts._replace(netloc=netloc)), host_header, tls_name)


async def send(
    client: httpx.AsyncClient,
    target: Target,
    body: bytes,
    headers: dict[str, str],
    step_timeout_s: float,
) -> int:
    """POSTs the body; `step_timeout_s` bounds each step (connect, write, read), the caller
    bounds the whole."""
    response = await client.post(
        target.url,
        content=body,
        headers={"content-type": "application/json", "host": target.host_header, **headers},
        timeout=step_timeout_s,
        extensions={"sni_hostname": target.tls_name} if target.tls_name else None,
    )
    return response.status_code

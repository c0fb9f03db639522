"""Sends generated submissions to the real intake API (`POST /v1/responses`).

Each case's responses go out one after another in administration order (so every dyad's events
reach Kafka in order); up to `concurrency` cases are sent at the same time. Connection errors,
timeouts and 5xx answers are retried with backoff; that is safe because every submission has
an idempotency key. A 4xx answer stops the run with the body intake sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

RESPONSES_PATH = "/v1/responses"


@dataclass(frozen=True)
class SendResult:
    sent: int
    accepted: int  # new responses
    duplicates: int  # idempotency key seen before: nothing new was published


class IntakeRejected(Exception):
    """Intake answered 4xx (or anything else but 2xx/5xx): retrying would not help."""

    def __init__(self, status_code: int, body: str, idempotency_key: str) -> None:
        super().__init__(f"intake answered {status_code} for {idempotency_key}: {body}")
        self.status_code = status_code
        self.body = body
        self.idempotency_key = idempotency_key


class IntakeUnavailable(Exception):
    """Intake could not be reached, or kept failing with 5xx, after all retries."""


async def send_all(
    submissions: Iterable[dict[str, Any]],
    intake_url: str,
    *,
    concurrency: int = 8,
    retries: int = 4,
    backoff: float = 0.5,
    request_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> SendResult:
    """Posts every submission; returns the counts. Raises `IntakeRejected` on the first 4xx and
    `IntakeUnavailable` when retries run out (the other sends are cancelled then)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    by_case: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for body in submissions:
        by_case.setdefault((body["clinic_id"], body["case_id"]), []).append(body)
    for bodies in by_case.values():
        bodies.sort(key=lambda b: (b["administered_at"], b["idempotency_key"]))
    counts = {"accepted": 0, "duplicates": 0}

    async with httpx.AsyncClient(
        base_url=intake_url.rstrip("/"), timeout=request_timeout, transport=transport
    ) as client:
        pending: Iterator[list[dict[str, Any]]] = iter(by_case.values())

        async def worker() -> None:
            for bodies in pending:  # shared iterator: each case is taken by one worker
                for body in bodies:
                    duplicate = await _post(client, body, retries, backoff)
                    counts["duplicates" if duplicate else "accepted"] += 1

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, len(by_case))):
                    group.create_task(worker())
        except ExceptionGroup as failed:
            raise _first(failed.exceptions) from None

    return SendResult(
        sent=counts["accepted"] + counts["duplicates"],
        accepted=counts["accepted"],
        duplicates=counts["duplicates"],
    )


async def _post(
    client: httpx.AsyncClient, body: dict[str, Any], retries: int, backoff: float
) -> bool:
    """Posts one submission; returns whether intake saw it before."""
    key = str(body["idempotency_key"])
    for attempt in range(retries + 1):
        try:
            response = await client.post(RESPONSES_PATH, json=body)
        except httpx.TransportError as exc:  # connect/read errors and timeouts
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return bool(response.json()["duplicate"])
            if not response.is_server_error:  # 4xx (or an unexpected 1xx/3xx): no retry
                raise IntakeRejected(response.status_code, response.text, key)
            problem = f"{response.status_code}: {response.text[:500]}"
        if attempt < retries:
            await asyncio.sleep(backoff * 2**attempt)
    raise IntakeUnavailable(f"{key}: gave up after {retries + 1} attempts, last: {problem}")


def _first(errors: Sequence[Exception]) -> Exception:
    """The error to report: a rejection explains more than an outage."""
    for error in errors:
        if isinstance(error, IntakeRejected):
            return error
    return errors[0]

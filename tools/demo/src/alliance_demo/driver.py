"""Sends generated submissions to the real intake API: questionnaire responses to
`POST /v1/responses`, episode endings to `POST /v1/episode-endings` (alliance_demo.requests).

Each case's submissions go out one after another: its responses in administration order, then
its episode ending, so the case's events reach Kafka (one partition per case) in that order; up
to `concurrency` cases are sent at the same time. Connection errors, timeouts and 5xx answers
are retried with backoff, and 429 (intake's rate limit) after its `Retry-After`; that is safe
because every submission has an idempotency key. Any other 4xx answer stops the run with the
body intake sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import httpx

from alliance_demo.network import submitted_at
from alliance_demo.requests import EpisodeEndingRequest, Submission, path_of, request_body

TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class SendResult:
    sent: int
    accepted: int  # new submissions
    duplicates: int  # idempotency key seen before: nothing new was published
    endings: int = 0  # of the sent submissions, how many were episode endings


def by_case(submissions: Iterable[Submission]) -> dict[tuple[str, str], list[Submission]]:
    """Each case's submissions in sending order: responses by administration time, then the
    episode ending(s)."""
    cases: dict[tuple[str, str], list[Submission]] = {}
    for submission in submissions:
        cases.setdefault((submission.clinic_id, submission.case_id), []).append(submission)
    for in_case in cases.values():
        in_case.sort(
            key=lambda s: (isinstance(s, EpisodeEndingRequest), submitted_at(s), s.idempotency_key)
        )
    return cases


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
    submissions: Iterable[Submission],
    intake_url: str,
    *,
    concurrency: int = 8,
    retries: int = 4,
    backoff: float = 0.5,
    request_timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
    token: str | None = None,
) -> SendResult:
    """Posts every submission (as the clinic system whose bearer `token` is given); returns the
    counts. Raises `IntakeRejected` on the first 4xx and `IntakeUnavailable` when retries run
    out (the other sends are cancelled then)."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    cases = by_case(submissions)
    counts = {"accepted": 0, "duplicates": 0, "endings": 0}

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(
        base_url=intake_url.rstrip("/"),
        timeout=request_timeout,
        transport=transport,
        headers=headers,
    ) as client:
        pending: Iterator[list[Submission]] = iter(cases.values())

        async def worker() -> None:
            for in_case in pending:  # shared iterator: each case is taken by one worker
                for submission in in_case:
                    duplicate = await _post(client, submission, retries, backoff)
                    counts["duplicates" if duplicate else "accepted"] += 1
                    counts["endings"] += isinstance(submission, EpisodeEndingRequest)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, len(cases))):
                    group.create_task(worker())
        except ExceptionGroup as failed:
            raise _first(failed.exceptions) from None

    return SendResult(
        sent=counts["accepted"] + counts["duplicates"],
        accepted=counts["accepted"],
        duplicates=counts["duplicates"],
        endings=counts["endings"],
    )


async def _post(
    client: httpx.AsyncClient, submission: Submission, retries: int, backoff: float
) -> bool:
    """Posts one submission; returns whether intake saw it before."""
    key, path, body = submission.idempotency_key, path_of(submission), request_body(submission)
    for attempt in range(retries + 1):
        wait = 0.0
        try:
            response = await client.post(path, json=body)
        except httpx.TransportError as exc:  # connect/read errors and timeouts
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return bool(response.json()["duplicate"])
            throttled = response.status_code == TOO_MANY_REQUESTS
            if not (response.is_server_error or throttled):  # 4xx, 1xx/3xx: no retry
                raise IntakeRejected(response.status_code, response.text, key)
            problem = f"{response.status_code}: {response.text[:500]}"
            # Intake's rate limit (a re-run's duplicates come back faster than it allows).
            wait = _retry_after(response) if throttled else 0.0
        if attempt < retries:
            await asyncio.sleep(max(backoff * 2**attempt, wait))
    raise IntakeUnavailable(f"{key}: gave up after {retries + 1} attempts, last: {problem}")


def _retry_after(response: httpx.Response) -> float:
    """The seconds `Retry-After` asks for (intake sends whole seconds), at most a minute."""
    try:
        return min(float(response.headers.get("retry-after", "1")), 60.0)
    except ValueError:
        return 1.0


def _first(errors: Sequence[Exception]) -> Exception:
    """The error to report: a rejection explains more than an outage."""
    for error in errors:
        if isinstance(error, IntakeRejected):
            return error
    return errors[0]

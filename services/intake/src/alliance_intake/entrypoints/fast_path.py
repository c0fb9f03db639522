"""`POST /v1/responses` without FastAPI's routing, for the everyday request (decision 0019).

A pure ASGI layer just inside the door (`alliance_platform.http_security.SecureDoor`: the
caller is authenticated and within its rate; FastAPI's body limit is outside both). It answers
a request only when the body is JSON that validates as a `ResponseSubmission` in one step
(`model_validate_json` on the raw bytes) and the token may write responses for its clinic; then
it runs the route's own use case and writes the receipt as bytes. Anything else (another path,
no JSON content type, an invalid body, a refusal) goes on to the FastAPI route with every
message it read replayed, so every error answer and the OpenAPI document are the route's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import ValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alliance_contracts.access import Principal, write_refusal
from alliance_contracts.access import Scope as WriteScope
from alliance_intake.domain.submission import SubmissionReceipt
from alliance_intake.entrypoints.requests import ResponseSubmission
from alliance_platform.http_security import DEPENDENCY_DOWN, dependency_down

PATH = "/v1/responses"
Submit = Callable[[ResponseSubmission], Awaitable[SubmissionReceipt | Response]]
_RECEIPT_HEADERS = [(b"content-type", b"application/json")]


def _json_content(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False


def receipt_body(receipt: SubmissionReceipt) -> bytes:
    """The 202's body, byte for byte as FastAPI's response model renders it."""
    duplicate = b"true" if receipt.duplicate else b"false"
    return b'{"event_id":"%s","duplicate":%s}' % (str(receipt.event_id).encode(), duplicate)


class SubmissionFastPath:
    def __init__(self, app: ASGIApp, *, submit: Submit) -> None:
        self.app = app
        self.submit = submit  # the route's use case, without its authorisation check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
            and _json_content(scope)
        ):
            await self.app(scope, receive, send)
            return
        read: list[Message] = []
        while True:  # the body limit (413) is enforced outside, by `receive`
            message = await receive()
            read.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        submission = self._valid(scope, read)
        if submission is None:
            await self.app(scope, _replay(read, receive), send)
            return
        try:
            answer = await self.submit(submission)
        except DEPENDENCY_DOWN as exc:
            answer = dependency_down(exc)
        if isinstance(answer, SubmissionReceipt):
            body = receipt_body(answer)
            headers = [*_RECEIPT_HEADERS, (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 202, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await answer(scope, receive, send)

    @staticmethod
    def _valid(scope: Scope, read: list[Message]) -> ResponseSubmission | None:
        """The submission, if the request is one this path answers."""
        if read[-1]["type"] != "http.request":  # the client went away: the route's business
            return None
        principal: Principal | None = scope.get("state", {}).get("principal")
        if principal is None:
            return None
        try:
            submission = ResponseSubmission.model_validate_json(
                b"".join(m.get("body", b"") for m in read)
            )
        except ValidationError:
            return None
        if write_refusal(principal, submission.clinic_id, WriteScope.RESPONSES_WRITE):
            return None
        return submission


def _replay(read: list[Message], receive: Receive) -> Receive:
    """`receive` that gives the messages already read first."""
    pending = list(read)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed

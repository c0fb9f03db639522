"""Trusted documents (persisted operations): the operations front-ends register at build time,
accepted by their hash; with `ALLIANCE_GATEWAY_TRUSTED_DOCUMENTS_ONLY`, the only ones accepted.

A client sends `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}}`
(Apollo's automatic persisted queries' shape) with its variables and no `query`; the gateway
runs the registered text, which the parser cache and `ValidateOnce` parse and validate once.
The registry is `trusted_documents.json` (Apollo's persisted-query manifest: id = SHA-256 of
the body). A hash it does not hold is refused; so is a document whose text does not match the
hash sent with it; and, when only trusted documents are accepted, any document sent as text.
Over a WebSocket (graphql-transport-ws) the `extensions` of the subscribe message carry the
hash the same way (`PersistedOverWebSocket`), so subscriptions are trusted documents too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from importlib import resources
from typing import Any

from graphql import GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.graphql import OperationType

from alliance_gateway.application.request import UserError

UNKNOWN = "persisted query not found: this gateway accepts only its registered documents"
MISMATCH = "the document does not match its sha256Hash"
ONLY_TRUSTED = (
    "only trusted documents are accepted: send extensions.persistedQuery.sha256Hash of a "
    "registered operation, without the query"
)
# What stands in for a refused operation (of a type the transport allows): nothing of it runs,
# its refusal is answered first.
_REFUSED = {
    OperationType.QUERY: "query Refused { __typename }",
    OperationType.SUBSCRIPTION: "subscription Refused { __typename }",
}
_REFUSED_DOCUMENTS = {kind: parse(text) for kind, text in _REFUSED.items()}


def _stand_in(allowed: Iterable[OperationType]) -> OperationType:
    return OperationType.QUERY if OperationType.QUERY in allowed else OperationType.SUBSCRIPTION


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def load_registry() -> dict[str, str]:
    """The trusted documents by their hash, checked: an id that is not its body's hash fails
    the start-up."""
    manifest = json.loads(
        resources.files(__package__).joinpath("trusted_documents.json").read_text()
    )
    registry = {op["id"]: op["body"] for op in manifest["operations"]}
    wrong = [key for key, body in registry.items() if sha256(body) != key]
    if wrong:
        raise ValueError(f"trusted_documents.json: ids that are not their body's hash: {wrong}")
    return registry


# The extensions of the WebSocket subscribe message being run (see PersistedOverWebSocket).
_socket_extensions: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "socket_extensions", default=None
)


class PersistedOverWebSocket(BaseGraphQLTransportWSHandler[Any, None]):
    """Strawberry runs a subscribe message without its `extensions`; this hands them to
    `TrustedDocuments` through the operation's task, which copies the context it starts in."""

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        token = _socket_extensions.set(message["payload"].get("extensions"))
        try:
            await super().handle_subscribe(message)
        finally:
            _socket_extensions.reset(token)


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if isinstance(persisted, Mapping) and isinstance(persisted.get("sha256Hash"), str):
        return str(persisted["sha256Hash"])
    return None


class TrustedDocuments(SchemaExtension):
    """Resolves a trusted document's hash to its text before parsing; refuses what is not
    registered (and, with `only_trusted`, every document sent as text). A refusal is an error
    for the client and nothing runs."""

    def __init__(self, registry: Mapping[str, str], only_trusted: bool) -> None:
        self.registry = registry
        self.only_trusted = only_trusted
        self.refusal: str | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        key = _requested_hash(context.operation_extensions or _socket_extensions.get())
        if key is not None:
            text = self.registry.get(key)
            if text is None:
                self.refusal = UNKNOWN
            elif context.query and context.query != text:
                self.refusal = MISMATCH
            else:
                context.query = text
        elif self.only_trusted and (context.query or context.graphql_document):
            self.refusal = ONLY_TRUSTED
        if self.refusal is not None:
            context.query = _REFUSED[_stand_in(context.allowed_operations)]
        yield

    def on_parse(self) -> Iterator[None]:
        if self.refusal is not None:
            # Errors set before validation are answered as they are (nothing is validated).
            context = self.execution_context
            context.graphql_document = _REFUSED_DOCUMENTS[_stand_in(context.allowed_operations)]
            error = GraphQLError(self.refusal, original_error=UserError(self.refusal))
            context.pre_execution_errors = [error]
        yield

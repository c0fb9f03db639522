"""One GraphQL operation reads one snapshot of the read models.

All the reads of an operation (its resolvers and DataLoaders, which run concurrently) go through
one read-only REPEATABLE READ transaction on one connection: a case view and its dyads, an alert
and its history, always come from the same moment. The transaction opens on the operation's
first read and ends with the operation (graphql/extensions.py); a subscription gets a fresh one
for each event it pushes. Statements take turns on the connection (a session is not safe for
concurrent use). The operation's DataLoaders live with its snapshot: their caches hold rows of
that snapshot only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


class ReadSnapshot:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()
        self.opened = 0  # transactions begun (tests count them)
        self.loaders: dict[str, Any] = {}  # the operation's DataLoaders, by name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The snapshot's session, for one or more statements in turn. Do not wait on another
        read (a DataLoader) inside: it waits for this turn."""
        async with self._turn:
            if self._session is None:
                session = self._sessions()
                try:
                    # Before any statement: the transaction's isolation and read-only mode.
                    await session.connection(execution_options=_SNAPSHOT)
                except BaseException:
                    await session.close()
                    raise
                self._session = session
                self.opened += 1
            yield self._session

    async def close(self) -> None:
        """Ends the snapshot (a rollback: nothing was written) and forgets what its loaders
        cached; the next read opens a new one."""
        async with self._turn:
            self.loaders.clear()
            session, self._session = self._session, None
            if session is not None:
                await session.close()


# The operation being executed, per task: operations on one WebSocket run concurrently and share
# its context, but each has its own snapshot.
current_snapshot: ContextVar[ReadSnapshot | None] = ContextVar("read_snapshot", default=None)


@asynccontextmanager
async def snapshot_of_operation(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[ReadSnapshot]:
    """The snapshot of the operation run inside (closed when it ends)."""
    snapshot = ReadSnapshot(sessions)
    token = current_snapshot.set(snapshot)
    try:
        yield snapshot
    finally:
        with contextlib.suppress(ValueError):  # closed from another context (a dropped stream)
            current_snapshot.reset(token)
        await snapshot.close()

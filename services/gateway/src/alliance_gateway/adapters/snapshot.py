"""One GraphQL operation reads one snapshot of the read models.

All the reads of an operation (its resolvers and DataLoaders, which run concurrently) go through
one REPEATABLE READ transaction on one connection: a case view and its dyads, an alert and its
history, always come from the same moment. The transaction opens on the operation's first read
and ends with the operation (graphql/extensions.py); a subscription gets a fresh one for each
event it pushes. Statements take turns on the connection (a session is not safe for concurrent
use). The operation's DataLoaders live with its snapshot: their caches hold rows of that
snapshot only.

The read audit of an operation is written in its snapshot's transaction (`write`), which then
commits: one connection, one transaction, one COMMIT for the reads and their audit (decision
0020). So a snapshot that may be audited (an authenticated caller's) is not read-only; the
others are. The role's grants keep the read models read-only either way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class ReadSnapshot:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], writable: bool = False) -> None:
        self._sessions = sessions
        self._options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": not writable}
        self._session: AsyncSession | None = None
        self._turn = asyncio.Lock()
        self.opened = 0  # transactions begun (tests count them)
        self.written = False  # `write` wrote into the current transaction: it commits
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
                    await session.connection(execution_options=self._options)
                except BaseException:
                    await session.close()
                    raise
                self._session = session
                self.opened += 1
            yield self._session

    async def write(self, statements: Callable[[asyncpg.Connection], Awaitable[None]]) -> bool:
        """Runs `statements` on the snapshot's connection, in its transaction, which then
        commits when the operation ends (`commit`). False when no snapshot is open (nothing
        was read, or a subscription ended it): the caller writes elsewhere."""
        async with self._turn:
            if self._session is None:
                return False
            connection = await self._session.connection()
            driver = (await connection.get_raw_connection()).driver_connection
            assert isinstance(driver, asyncpg.Connection)
            if not driver.is_in_transaction():  # begun lazily, by the first statement
                await self._session.execute(text("SELECT 1"))
            await statements(driver)
            self.written = True
            return True

    async def commit(self) -> None:
        """Commits what `write` wrote (the operation succeeded); without writes, nothing."""
        async with self._turn:
            if self._session is not None and self.written:
                await self._session.commit()

    async def close(self) -> None:
        """Ends the snapshot (a rollback of anything not committed) and forgets what its
        loaders cached; the next read opens a new one."""
        async with self._turn:
            self.loaders.clear()
            self.written = False
            session, self._session = self._session, None
            if session is not None:
                await session.close()


# The operation being executed, per task: operations on one WebSocket run concurrently and share
# its context, but each has its own snapshot.
current_snapshot: ContextVar[ReadSnapshot | None] = ContextVar("read_snapshot", default=None)


@asynccontextmanager
async def snapshot_of_operation(
    sessions: async_sessionmaker[AsyncSession], writable: bool = False
) -> AsyncIterator[ReadSnapshot]:
    """The snapshot of the operation run inside: committed when it ends normally (if it
    wrote), closed in any case."""
    snapshot = ReadSnapshot(sessions, writable)
    token = current_snapshot.set(snapshot)
    try:
        yield snapshot
        await snapshot.commit()
    finally:
        with contextlib.suppress(ValueError):  # closed from another context (a dropped stream)
            current_snapshot.reset(token)
        await snapshot.close()

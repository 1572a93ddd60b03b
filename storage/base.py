"""What every store shares: its session factory, the dialect's upsert, counting changed rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import ColumnElement, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute


def rowcount(result: Any) -> int:
    """Rows changed by an UPDATE or DELETE (the ORM types its result as a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


class Store:
    """One aggregate's queries; each public method is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        bind = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("the sessionmaker must be bound to an AsyncEngine")
        self._sessions = sessions
        self._dialect = bind.dialect.name

    def _insert(self, table: Any) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that supports ON CONFLICT on the engine's database."""
        return insert_for(self._dialect, table)

    async def _set_where_in(self, key: InstrumentedAttribute[int], ids: Iterable[int],
                            only: ColumnElement[bool], **values: Any) -> int:
        """Set ``values`` on the rows whose ``key`` is in ``ids`` and that meet ``only``.

        One guarded UPDATE in its own transaction; how many rows changed.
        """
        wanted = list(ids)
        if not wanted:
            return 0
        stmt = (
            update(key.class_)
            .where(key.in_(wanted), only)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt))


def insert_for(dialect: str, table: Any) -> sqlite.Insert | postgresql.Insert:
    """An INSERT that supports ON CONFLICT on ``dialect``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)

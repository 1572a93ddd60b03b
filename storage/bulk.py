"""Recording a batch of replies from a worker thread, in one hop to the event loop (SQLite).

Through aiosqlite, every step of a transaction (cursor, statement, commit, returning the
connection) is a hop between its thread and the event loop, and each hop resumes only when
the loop gets to it. While the loop is busy with a burst of gateway events, a turn of the
loop takes hundreds of milliseconds, and a batch of replies took seconds to write: replies
then piled up in memory faster than they were written. :class:`ThreadedReplyWriter` runs
the whole transaction in one worker-thread call with a synchronous engine on the same file
(same PRAGMAs), so the loop is involved once a batch.

The thread still shares the GIL with the event loop, so its Python work per row is kept
small: a multi-row INSERT is compiled once per page size, and each page is sent with the
column values converted by the columns' own types (as SQLAlchemy would), in one statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, create_engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url

from storage.engine import DEFAULT_BUSY_TIMEOUT_MS, configure_sqlite
from storage.models import Reply
from storage.records import NewReply
from storage.replies import reply_values, sqlite_pages
from storage.work import touch_sync

_COLUMNS = list(Reply.__table__.c)
_NAMES = [column.name for column in _COLUMNS]


class ThreadedReplyWriter:
    """Records replies like :meth:`ReplyStore.record`, from a worker thread."""

    def __init__(self, url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        parsed = make_url(url)
        if parsed.drivername != "sqlite+aiosqlite" or not parsed.database or (
            parsed.database == ":memory:" or "mode=memory" in parsed.database
        ):
            raise ValueError(f"a threaded reply writer needs an SQLite file, not {url!r}")
        self._engine = create_engine(parsed.set(drivername="sqlite+pysqlite"))
        configure_sqlite(self._engine, busy_timeout_ms)
        dialect = self._engine.dialect
        # The dialect's own converters (for times: UTC, then SQLite's text format), so the
        # rows are stored exactly as the repository stores them.
        self._convert: list[Callable[[Any], Any] | None] = [
            column.type.dialect_impl(dialect).bind_processor(dialect) for column in _COLUMNS
        ]
        self._statements: dict[int, str] = {}

    @classmethod
    def for_url(cls, url: str) -> ThreadedReplyWriter | None:
        """A writer for an SQLite file; None for other databases (their driver needs none)."""
        try:
            return cls(url)
        except ValueError:
            return None

    def _statement(self, rows: int) -> str:
        """``INSERT OR IGNORE`` of ``rows`` rows, compiled once per size, positional binds."""
        sql = self._statements.get(rows)
        if sql is None:
            values: list[dict[str, Any]] = [
                {name: bindparam(f"r{row}_{name}") for name in _NAMES} for row in range(rows)
            ]
            compiled = (
                sqlite.insert(Reply).prefix_with("OR IGNORE").values(values)
                .compile(dialect=self._engine.dialect)
            )
            expected = [f"r{row}_{name}" for row in range(rows) for name in _NAMES]
            if list(compiled.positiontup or ()) != expected:
                raise RuntimeError("unexpected bind order in the compiled multi-row INSERT")
            sql = self._statements[rows] = str(compiled)
        return sql

    def _parameters(self, page: list[dict[str, Any]]) -> tuple[Any, ...]:
        """The page's values in statement order, converted by their columns' types."""
        flat: list[Any] = []
        for row in page:
            for name, convert in zip(_NAMES, self._convert, strict=True):
                value = row[name]
                flat.append(convert(value) if convert is not None else value)
        return tuple(flat)

    def record(self, replies: Sequence[NewReply]) -> int:
        """Record replies in one transaction (blocking); how many were new."""
        rows = [reply_values(reply) for reply in replies]
        if not rows:
            return 0
        new = 0
        with self._engine.begin() as connection:
            for page in sqlite_pages(rows):
                result = connection.exec_driver_sql(self._statement(len(page)),
                                                    self._parameters(page))
                new += int(result.rowcount)
            touch_sync(connection, [(r["course"], r["post_id"], r["author_id"]) for r in rows])
        return new

    async def record_replies(self, replies: Sequence[NewReply]) -> int:
        """Record replies in one transaction from a worker thread; how many were new."""
        return await asyncio.to_thread(self.record, list(replies))

    def close(self) -> None:
        """Close the writer's connections."""
        self._engine.dispose()

"""Engine and session set-up for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
DEFAULT_BUSY_TIMEOUT_MS = 30_000


class DatabaseURLError(ValueError):
    """The database URL names a driver Seminar does not support."""


def _is_memory(database: str | None) -> bool:
    return database in (None, "", ":memory:") or "mode=memory" in (database or "")


def in_memory(url: str) -> bool:
    """Whether ``url`` is an in-memory SQLite database (only its own process can open it)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and (
        _is_memory(parsed.database) or parsed.query.get("mode") == "memory")


def create_engine(
    url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, echo: bool = False
) -> AsyncEngine:
    """Create the async engine for ``url`` with Seminar's connection settings.

    SQLite connections get WAL mode (readers never wait for the writer), foreign keys on,
    and a busy timeout so that a second writer waits for the lock instead of failing.
    """
    parsed = make_url(url)
    driver = parsed.drivername
    if driver not in SUPPORTED_DRIVERS:
        raise DatabaseURLError(
            f"database URL uses {driver!r}: use 'sqlite+aiosqlite:///FILE.db' "
            "or 'postgresql+asyncpg://USER:PASSWORD@HOST/DB'"
        )
    if driver == "sqlite+aiosqlite":
        kwargs: dict[str, Any] = {}
        if _is_memory(parsed.database):
            # Each connection to :memory: is a new empty database: share one connection.
            kwargs["poolclass"] = StaticPool
        engine = _create_async_engine(parsed, echo=echo, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    # pre_ping: a pooled connection from before a server restart is replaced, not used.
    return _create_async_engine(parsed, echo=echo, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    """Run Seminar's PRAGMAs on every new SQLite connection of an async engine."""
    configure_sqlite(engine.sync_engine, busy_timeout_ms)


def configure_sqlite(engine: Engine, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
    """Run Seminar's PRAGMAs on every new SQLite connection; send row lists as multi-row INSERTs.

    SQLAlchemy sends an INSERT with a list of rows through executemany unless it has
    RETURNING; executemany steps SQLite once a row, and from a worker thread each step gives
    the GIL up to a busy event loop and waits to get it back.
    """
    engine.dialect.use_insertmanyvalues_wo_returning = True

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            _use_wal(cursor, busy_timeout_ms)
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()


def _use_wal(cursor: Any, busy_timeout_ms: int) -> None:
    """Switch the file to WAL, waiting out another process switching it at the same moment.

    SQLite answers "database is locked" at once, without its busy handler, when two
    connections turn a new file to WAL together; this waits as a busy handler would.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.01
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)

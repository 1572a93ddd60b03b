"""Fresh test databases: a SQLite file always, PostgreSQL when SEMINAR_TEST_DATABASE_URL is set.

PostgreSQL tests share one database, so each test starts by dropping and recreating its
``public`` schema: the URL alone then names a clean database, and a subprocess (a second
bot, a claim racer) can use it as it is. Run PostgreSQL tests one at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.engine import create_engine, create_sessionmaker
from storage.repository import Repository

PG_URL_VARIABLE = "SEMINAR_TEST_DATABASE_URL"


def database_kinds() -> list[str]:
    """The databases to test on: PostgreSQL only when its URL is configured."""
    kinds = ["sqlite"]
    if os.environ.get(PG_URL_VARIABLE):
        kinds.append("postgresql")
    return kinds


async def fresh_database_url(kind: str, tmp_path: Path) -> str:
    """The URL of an empty database of ``kind`` (SQLite under ``tmp_path``)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'seminar.db'}"
    url = os.environ[PG_URL_VARIABLE]
    await wipe_schema(url)
    return url


async def wipe_schema(url: str) -> None:
    """Drop and recreate the ``public`` schema of the PostgreSQL database at ``url``."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@dataclass
class TestDatabase:
    """A migrated, empty database with an engine and a repository on it."""

    __test__ = False  # not a test class, despite the name

    kind: str
    url: str
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    repo: Repository
    _engines: list[AsyncEngine] = field(default_factory=list)

    def new_engine(self) -> AsyncEngine:
        """Another engine on the same database (disposed when the test ends)."""
        engine = create_engine(self.url)
        self._engines.append(engine)
        return engine

    def new_repository(self) -> Repository:
        """A repository on its own engine, as a second process would have."""
        return Repository(create_sessionmaker(self.new_engine()))

    async def close(self) -> None:
        """Dispose every engine made for the test."""
        for engine in [self.engine, *self._engines]:
            await engine.dispose()

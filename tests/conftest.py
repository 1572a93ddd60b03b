"""Shared fixtures.

``database_url``: an empty database; ``database``: the same, migrated, with an engine and a
repository. Both run once on SQLite and, when SEMINAR_TEST_DATABASE_URL is set, once more on
PostgreSQL (without the URL the PostgreSQL cases are not generated at all).
``emulator``: a started Discord API emulator (tests/emulator/README.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.repository import Repository
from tests.databases import TestDatabase, database_kinds, fresh_database_url
from tests.emulator import DiscordEmulator, restore_discord_py_urls


@pytest.fixture(params=database_kinds())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database (SQLite file, or a cleaned PostgreSQL schema)."""
    return await fresh_database_url(request.param, tmp_path)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[TestDatabase]:
    """A migrated empty database with an engine and a :class:`Repository` on it."""
    engine = create_engine(database_url)
    await upgrade_engine(engine)
    sessions = create_sessionmaker(engine)
    db = TestDatabase(
        kind=engine.dialect.name,
        url=database_url,
        engine=engine,
        sessions=sessions,
        repo=Repository(sessions),
    )
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def emulator() -> AsyncIterator[DiscordEmulator]:
    """A Discord emulator listening on 127.0.0.1; stopped, and discord.py's URLs restored, after.

    The test fails if the emulator itself hit an internal error (a bug to fix there).
    """
    emu = DiscordEmulator()
    await emu.start()
    try:
        with restore_discord_py_urls():
            yield emu
    finally:
        await emu.stop()
    assert not emu.internal_errors, emu.internal_errors

"""Shared fixtures.

``database_url``: an empty database; ``database``: the same, migrated, with an engine and a
repository. Both run once on SQLite and, when SEMINAR_TEST_DATABASE_URL is set, once more on
PostgreSQL (without the URL the PostgreSQL cases are not generated at all).
``emulator``: a started Discord API emulator (tests/emulator/README.md).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.repository import Repository
from tests.databases import TestDatabase, database_kinds, fresh_database_url
from tests.emulator import DiscordEmulator, restore_discord_py_urls

# Property tests never decide by chance whether a commit passes: the default profile
# ("repeatable", what `make test` and CI run) draws the same examples on every machine and
# every run, and ignores any local example database. `make explore` (profile "explore")
# draws new examples each run, many more of them, and keeps failures in .hypothesis/: a
# failure it finds becomes an @example on the test, so the repeatable run checks it for good.
settings.register_profile(
    "repeatable", derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "explore", derandomize=False, deadline=None, max_examples=1000, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=tuple(Phase),
)
settings.load_profile(os.environ.get("SEMINAR_HYPOTHESIS_PROFILE", "repeatable"))


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

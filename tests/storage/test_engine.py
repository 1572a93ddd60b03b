"""Engine set-up: SQLite runs in WAL mode with foreign keys and a busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import DatabaseURLError, create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.repository import Repository

T0 = dt.datetime(2026, 9, 7, 7, 0, tzinfo=dt.UTC)


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'class.db'}", busy_timeout_ms=1234)
    try:
        async with engine.connect() as connection:
            mode = await connection.scalar(text("PRAGMA journal_mode"))
            keys = await connection.scalar(text("PRAGMA foreign_keys"))
            timeout = await connection.scalar(text("PRAGMA busy_timeout"))
    finally:
        await engine.dispose()
    assert (mode, keys, timeout) == ("wal", 1, 1234)
    # WAL is a property of the file: any other program opening it sees it too.
    with contextlib.closing(sqlite3.connect(tmp_path / "class.db")) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_a_reader_is_not_blocked_by_an_open_write(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'class.db'}"
    writer_engine, reader_engine = create_engine(url), create_engine(url)
    try:
        await upgrade_engine(writer_engine)
        repo = Repository(create_sessionmaker(reader_engine))
        await repo.posts.claim("hist", "rome", T0, None, "a")
        async with writer_engine.begin() as writer:
            await writer.execute(text("UPDATE lesson_posts SET reason = 'writing'"))
            # WAL: the reader sees the last committed state at once, without waiting.
            post = await asyncio.wait_for(repo.posts.find("hist", "rome", T0), timeout=5)
        assert post is not None
        assert post.reason is None
    finally:
        await writer_engine.dispose()
        await reader_engine.dispose()


async def test_an_in_memory_database_is_one_database(tmp_path: Path) -> None:
    engine = create_engine("sqlite+aiosqlite://")
    try:
        await upgrade_engine(engine)
        repo = Repository(create_sessionmaker(engine))
        post_id = await repo.posts.claim("hist", "rome", T0, None, "a")
        assert post_id is not None
        post = await repo.posts.get(post_id)
        assert post is not None and post.lesson == "rome"
    finally:
        await engine.dispose()


def test_an_unsupported_url_says_which_ones_work() -> None:
    with pytest.raises(DatabaseURLError, match=r"sqlite\+aiosqlite:///FILE.db"):
        create_engine("mysql://root@localhost/seminar")
    with pytest.raises(DatabaseURLError, match="postgresql"):
        create_engine("postgresql://u:p@localhost/seminar")  # sync driver

"""Batches of replies on SQLite: multi-row pages, counted exactly, the same rows either way."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.bulk import ThreadedReplyWriter
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_engine
from storage.records import NewReply, ThreadInfo
from storage.replies import sqlite_pages
from storage.repository import Repository
from tests.databases import TestDatabase

T0 = dt.datetime(2026, 9, 7, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-4)))


async def one_thread(database: TestDatabase) -> ThreadInfo:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, T0 + dt.timedelta(days=2), "test")
    assert post_id is not None
    await repo.posts.record_thread(post_id, 0, 500, created_at=T0)
    info = await repo.posts.thread_info(500)
    assert info is not None
    return info


def reply(thread: ThreadInfo, message_id: int, **changes: object) -> NewReply:
    values: dict[str, object] = {
        "message_id": message_id, "thread_id": thread.thread_id, "post_id": thread.post_id,
        "question_index": thread.question_index, "course": thread.course,
        "lesson": thread.lesson, "guild_id": 42, "author_id": 1000 + message_id % 7,
        "author_name": "Zoë " * 30, "created_at": T0 + dt.timedelta(seconds=message_id),
        "word_count": 5, "char_count": 27, "reply_to_message_id": None,
        "reply_to_author_id": None, "late": False, "text": None, "edited_at": None,
    }
    values.update(changes)
    return NewReply(**values)  # type: ignore[arg-type]


def test_pages_have_power_of_two_sizes_and_every_row() -> None:
    rows = [{"n": n} for n in range(1300)]
    pages = list(sqlite_pages(rows))
    assert [len(p) for p in pages] == [512, 512, 512]
    assert [r["n"] for p in pages for r in p][:1300] == list(range(1300))
    assert {id(r) for r in pages[-1][276:]} == {id(rows[-1])}  # padding repeats the last row
    assert [len(p) for p in sqlite_pages(rows[:3])] == [4]
    assert list(sqlite_pages([])) == []


@pytest.mark.parametrize("count", [1, 3, 512, 700, 1300])
async def test_the_repository_counts_new_replies_exactly(
    database: TestDatabase, count: int
) -> None:
    thread = await one_thread(database)
    replies = [reply(thread, 10_000 + n) for n in range(count)]
    assert await database.repo.replies.record(replies) == count
    # Again, plus one new: only the new one counts; padding copies are never counted.
    assert await database.repo.replies.record([*replies, reply(thread, 99_999)]) == 1
    assert len(await database.repo.replies.matching("hist")) == count + 1


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A migrated SQLite file (the threaded writer is for SQLite only)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'seminar.db'}"
    engine = create_engine(url)
    await upgrade_engine(engine)
    sessions = create_sessionmaker(engine)
    db = TestDatabase("sqlite", url, engine, sessions, Repository(sessions))
    try:
        yield db
    finally:
        await db.close()


async def test_the_threaded_writer_records_what_the_repository_would(
    sqlite_database: TestDatabase,
) -> None:
    database = sqlite_database
    thread = await one_thread(database)
    writer = ThreadedReplyWriter.for_url(database.url)
    assert writer is not None
    try:
        edited = {"edited_at": T0 + dt.timedelta(hours=1), "late": True, "text": "Salut",
                  "reply_to_message_id": 7, "reply_to_author_id": 1003, "author_id": 1001,
                  "created_at": T0 + dt.timedelta(seconds=2)}
        assert await database.repo.replies.record([reply(thread, 1, **edited)]) == 1
        assert await writer.record_replies([reply(thread, 2, **edited)]) == 1
        batch = [reply(thread, n) for n in range(3, 1000)]
        assert await writer.record_replies(batch) == len(batch)
        assert await writer.record_replies([*batch[:10], reply(thread, 5000)]) == 1
        assert await writer.record_replies([]) == 0
    finally:
        writer.close()
    assert database.url.startswith("sqlite+aiosqlite:///")
    with sqlite3.connect(database.url.removeprefix("sqlite+aiosqlite:///")) as raw:
        first, second = raw.execute(
            "SELECT * FROM replies WHERE message_id IN (1, 2) ORDER BY message_id").fetchall()
    assert first[1:] == second[1:]  # stored byte for byte alike (UTC times, cut names)
    stored = await database.repo.replies.get(2)
    assert stored is not None
    assert stored.created_at == T0 + dt.timedelta(seconds=2)
    assert stored.author_name == ("Zoë " * 30)[:100]
    assert len(await database.repo.replies.matching("hist")) == 2 + 997 + 1


def test_the_threaded_writer_is_only_for_sqlite_files() -> None:
    assert ThreadedReplyWriter.for_url("sqlite+aiosqlite:///:memory:") is None
    assert ThreadedReplyWriter.for_url("postgresql+asyncpg://u:p@localhost/db") is None
    with pytest.raises(ValueError, match="SQLite file"):
        ThreadedReplyWriter("sqlite+aiosqlite://")

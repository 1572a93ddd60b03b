"""Batches of replies: multi-row pages on SQLite, counted exactly; the writer process writes the
same rows as the repository, in order, and survives being killed."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
from concurrent.futures import BrokenExecutor

import psutil
import pytest

from storage.bulk import ReplyWriterProcess
from storage.records import NewReply, ThreadInfo
from storage.replies import sqlite_pages
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


def writer_processes() -> list[psutil.Process]:
    """The reply writer processes this test started (children of this process)."""
    return [p for p in psutil.Process().children(recursive=True)
            if "spawn_main" in " ".join(p.cmdline())]


async def test_the_writer_process_records_what_the_repository_would(
    database: TestDatabase,
) -> None:
    thread = await one_thread(database)
    writer = ReplyWriterProcess.for_url(database.url)
    assert writer is not None
    try:
        edited = {"edited_at": T0 + dt.timedelta(hours=1), "late": True, "text": "Salut",
                  "reply_to_message_id": 7, "reply_to_author_id": 1003, "author_id": 1001,
                  "created_at": T0 + dt.timedelta(seconds=2)}
        assert await database.repo.replies.record([reply(thread, 1, **edited)]) == 1
        assert await writer.submit([reply(thread, 2, **edited)]) == 1
        batch = [reply(thread, n) for n in range(3, 1000)]
        # Handed over at once, written in order: the second batch's copies are not new.
        first = writer.submit(batch)
        second = writer.submit([*batch[:10], reply(thread, 5000)])
        assert (await first, await second) == (len(batch), 1)
        assert await writer.submit([]) == 0
    finally:
        await writer.close()
    assert writer_processes() == []  # closed: the child is gone
    stored = {r.message_id: r for r in await database.repo.replies.matching("hist")}
    assert len(stored) == 2 + 997 + 1
    first_reply, second_reply = stored[1], stored[2]
    assert first_reply.created_at == second_reply.created_at == T0 + dt.timedelta(seconds=2)
    assert second_reply.author_name == ("Zoë " * 30)[:100]
    assert {k: v for k, v in vars_of(first_reply).items() if k != "message_id"} == {
        k: v for k, v in vars_of(second_reply).items() if k != "message_id"}
    if database.kind == "sqlite":
        # Stored byte for byte alike (UTC times in SQLAlchemy's text format, cut names).
        with sqlite3.connect(database.url.removeprefix("sqlite+aiosqlite:///")) as raw:
            first_row, second_row = raw.execute(
                "SELECT * FROM replies WHERE message_id IN (1, 2) ORDER BY message_id"
            ).fetchall()
        assert first_row[1:] == second_row[1:]


def vars_of(record: object) -> dict[str, object]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}  # type: ignore[attr-defined]


async def test_a_killed_writer_process_is_replaced_and_nothing_is_lost(
    database: TestDatabase,
) -> None:
    thread = await one_thread(database)
    writer = ReplyWriterProcess.for_url(database.url)
    assert writer is not None
    try:
        assert await writer.submit([reply(thread, 1)]) == 1
        # Ctrl-C in the terminal reaches the child too: it leaves stopping to the bot.
        (child,) = writer_processes()
        child.send_signal(signal.SIGINT)
        assert await writer.submit([reply(thread, 2)]) == 1
        # Killed (say, by the out-of-memory killer): the batch fails, the caller keeps it
        # and tries again, and a new child writes it.
        child.kill()
        child.wait(10)
        with pytest.raises(BrokenExecutor):
            await writer.submit([reply(thread, 3)])
        assert await writer.submit([reply(thread, 3)]) == 1
    finally:
        await writer.close()
    assert sorted(r.message_id for r in await database.repo.replies.matching("hist")) == [1, 2, 3]


def test_an_in_memory_database_has_no_writer_process() -> None:
    assert ReplyWriterProcess.for_url("sqlite+aiosqlite:///:memory:") is None
    assert ReplyWriterProcess.for_url("sqlite+aiosqlite://") is None
    with pytest.raises(ValueError, match="database file"):
        ReplyWriterProcess("sqlite+aiosqlite:///file:x?mode=memory&cache=shared")

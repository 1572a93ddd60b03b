"""The reply recorder, without Discord: duplicates, edits and deletions, on a real database."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.cogs.participation.recorder import ReplyRecorder
from bot.core.participation_rules import Edit
from tests.databases import TestDatabase
from tests.records import replies_of
from tests.storage.test_replies import ALICE, BOB, T0, new_reply, post_lesson

WAIT = 30.0  # an upper bound only


async def test_replies_are_written_once_with_edits_and_deletions_in_any_order(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    caught_up: list[bool] = []
    recorder = ReplyRecorder(repo, database.url, on_caught_up=lambda: caught_up.append(True))
    recorder.start()
    try:
        first = new_reply(thread, 1_001, ALICE, T0 + dt.timedelta(minutes=1), 3)
        recorder.add(first)
        recorder.add(first)  # the gateway delivered it twice
        recorder.add(new_reply(thread, 1_002, BOB, T0 + dt.timedelta(minutes=2), 4))
        # An edit of a reply waiting in the buffer changes what is written.
        await recorder.edit(1_001, Edit(T0 + dt.timedelta(minutes=3), 9, 54, None))
        # An edit and a deletion of a reply not seen yet wait for it.
        await recorder.edit(1_003, Edit(T0 + dt.timedelta(minutes=5), 12, 70, None))
        await recorder.mark_deleted([1_004])
        recorder.add(new_reply(thread, 1_003, ALICE, T0 + dt.timedelta(minutes=4), 2))
        recorder.add(new_reply(thread, 1_004, BOB, T0 + dt.timedelta(minutes=4), 2))
        assert await recorder.flush()
        await recorder.settle()
    finally:
        await recorder.close()

    rows = {r.message_id: r for r in await replies_of(repo, "hist", ALICE)}
    rows |= {r.message_id: r for r in await replies_of(repo, "hist", BOB)}
    assert sorted(rows) == [1_001, 1_002, 1_003, 1_004]
    assert rows[1_001].word_count == 9
    assert rows[1_003].word_count == 12
    assert rows[1_004].deleted_at is not None
    assert rows[1_002].deleted_at is None
    assert caught_up == []  # nothing was left out


async def test_a_full_buffer_leaves_replies_out_and_says_when_it_has_caught_up(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=200)
    caught_up = asyncio.Event()
    recorder = ReplyRecorder(repo, database.url, on_caught_up=caught_up.set)
    recorder.max_waiting = 2
    recorder.buffer.max_delay = 3600.0  # no timed write: only the flush below writes
    recorder.start()
    try:
        for n in range(2):
            recorder.add(new_reply(thread, 2_001 + n, ALICE, T0 + dt.timedelta(minutes=n), 5))
        assert recorder.full
        recorder.leave_out()
        assert recorder.left_out == 1
        assert await recorder.flush()
        await asyncio.wait_for(caught_up.wait(), WAIT)  # catch-up may read the rest back now
        assert not recorder.full
    finally:
        await recorder.close()
    assert len(await replies_of(repo, "hist", ALICE)) == 2

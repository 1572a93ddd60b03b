"""The participation summary's reshaped query: checkpoint counts in one pass, first and latest
replies found by index seek or by min/max alike, and the 0003 report indexes migrating both ways.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from alembic import command
from sqlalchemy import Connection

from storage.migrate import alembic_config, current_revision, head_revision
from storage.records import CutoffCounts
from storage.repository import Repository
from tests.databases import TestDatabase
from tests.storage.test_replies import GUILD, HOUR, T0, new_reply, post_lesson

ANN, BEN, CAT = 2001, 2002, 2003
DAY = dt.timedelta(days=1)


async def _two_lessons(repo: Repository) -> None:
    """Ann, Ben and Cat reply over two lessons: long and short replies, peers, a self-reply."""
    week1 = await post_lesson(repo, "bio", "cells", T0, 2, 100)
    week2 = await post_lesson(repo, "bio", "genes", T0 + 7 * DAY, 1, 200)
    await repo.replies.record(
        [
            new_reply(week1[0], 1_001, ANN, T0 + HOUR, 30, name="Ann"),
            new_reply(week1[0], 1_002, BEN, T0 + 2 * HOUR, 25, name="Ben",
                      reply_to=(1_001, ANN)),
            new_reply(week1[1], 1_003, ANN, T0 + 3 * HOUR, 4, name="Ann", reply_to=(1_002, BEN)),
            new_reply(week1[1], 1_004, CAT, T0 + DAY, 40, name="Cat", reply_to=(1_003, ANN)),
            new_reply(week1[0], 1_005, BEN, T0 + DAY + HOUR, 22, name="Ben",
                      reply_to=(1_002, BEN)),
            new_reply(week2[0], 2_001, ANN, T0 + 7 * DAY + HOUR, 50, name="Ann R.",
                      reply_to=(1_004, CAT)),
            new_reply(week2[0], 2_002, BEN, T0 + 8 * DAY, 3, name="Ben", reply_to=(2_001, ANN)),
            new_reply(week2[0], 2_003, CAT, T0 + 9 * DAY, 60, name="Cat", late=True),
        ]
    )


async def test_checkpoint_counts_come_with_the_totals_in_one_summary(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _two_lessons(repo)
    cutoffs = [T0 + 12 * HOUR, T0 + 7 * DAY + 2 * HOUR, T0 + 30 * DAY]

    summary = await repo.reports.summary("bio", min_words=20, cutoffs=cutoffs)

    # The totals are those of the plain summary; only ``before`` is added.
    plain = await repo.reports.summary("bio", min_words=20)
    assert [replace(s, before=()) for s in summary] == plain
    before = {s.author_id: s.before for s in summary}
    # Ann: substantive 1_001 (by 12h) and 2_001 (a peer reply, by day 7 + 2h); 1_003 is short.
    assert before[ANN] == (
        CutoffCounts(cutoffs[0], 1, 0),
        CutoffCounts(cutoffs[1], 2, 1),
        CutoffCounts(cutoffs[2], 2, 1),
    )
    # Ben: 1_002 is a substantive peer reply by 12h; 1_005 answers himself (not a peer reply).
    assert before[BEN] == (
        CutoffCounts(cutoffs[0], 1, 1),
        CutoffCounts(cutoffs[1], 2, 1),
        CutoffCounts(cutoffs[2], 2, 1),
    )
    assert before[CAT] == (
        CutoffCounts(cutoffs[0], 0, 0),
        CutoffCounts(cutoffs[1], 1, 1),
        CutoffCounts(cutoffs[2], 2, 1),
    )
    # The same numbers as one summary per checkpoint cut off with ``until``.
    for i, cutoff in enumerate(cutoffs):
        alone = await repo.reports.summary("bio", min_words=20, until=cutoff)
        separate = {s.author_id: s for s in alone}
        for author, counts in before.items():
            alone = separate.get(author)
            assert counts[i].substantive_replies == (alone.substantive_replies if alone else 0)
            assert counts[i].substantive_peer_replies == (
                alone.substantive_peer_replies if alone else 0
            )


async def test_cutoffs_work_for_a_lesson_and_a_student_too(database: TestDatabase) -> None:
    repo = database.repo
    await _two_lessons(repo)
    cutoff = T0 + 12 * HOUR

    [ann] = await repo.reports.summary("bio", lesson="cells", author_id=ANN, min_words=20,
                               cutoffs=[cutoff])
    assert (ann.replies, ann.substantive_replies, ann.before) == (
        2, 1, (CutoffCounts(cutoff, 1, 0),)
    )
    assert await repo.reports.summary("bio", lesson="genes", cutoffs=[cutoff], author_id=CAT) != []
    assert await repo.reports.summary("bio", cutoffs=[]) == await repo.reports.summary("bio")


async def test_a_summary_counts_what_a_report_shows_in_every_scope(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _two_lessons(repo)
    await repo.replies.mark_deleted([1_005], T0 + 2 * DAY)
    cutoffs = [T0 + 12 * HOUR, T0 + 30 * DAY]

    for lesson, author in ((None, None), ("cells", None), (None, BEN), ("genes", CAT)):
        rows = await repo.reports.summary("bio", lesson=lesson, author_id=author, min_words=20,
                                  cutoffs=cutoffs)
        assert rows != [], (lesson, author)
        # Each checkpoint's counts are those of the same scope cut off with ``until``.
        for i, cutoff in enumerate(cutoffs):
            alone = await repo.reports.summary("bio", lesson=lesson, author_id=author, min_words=20,
                                       until=cutoff)
            counted = {s.author_id: (s.substantive_replies, s.substantive_peer_replies)
                       for s in alone}
            assert {
                r.author_id: (r.before[i].substantive_replies, r.before[i].substantive_peer_replies)
                for r in rows
            } == {r.author_id: counted.get(r.author_id, (0, 0)) for r in rows}, (lesson, author)
    [ann] = await repo.reports.summary("bio", author_id=ANN, min_words=20)
    assert (ann.author_name, ann.replies, ann.substantive_replies) == ("Ann R.", 3, 2)
    assert ann.words == 84
    assert (ann.questions_answered, ann.peer_replies, ann.substantive_peer_replies) == (3, 2, 1)
    assert (ann.late_replies, ann.first_reply_at, ann.before) == (0, T0 + HOUR, ())
    assert await repo.reports.summary("nobody") == []


async def test_first_and_last_reply_skip_deleted_ones_in_course_and_lesson_alike(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _two_lessons(repo)
    # Ann's first and last replies are deleted: her report starts and ends with what is left.
    assert await repo.replies.mark_deleted([1_001, 2_001], T0 + 10 * DAY) == 2

    [course] = await repo.reports.summary("bio", author_id=ANN)
    [lesson] = await repo.reports.summary("bio", lesson="cells", author_id=ANN)
    whole = {s.author_id: s for s in await repo.reports.summary("bio")}
    for ann in (course, lesson, whole[ANN]):
        # The name on the latest counted reply, whichever way the summary was asked for.
        assert (ann.first_reply_at, ann.replies, ann.author_name) == (T0 + 3 * HOUR, 1, "Ann")
    assert whole[BEN].first_reply_at == T0 + 2 * HOUR
    assert [s.author_id for s in await repo.reports.summary("other")] == []


def _migrate(connection: Connection, revision: str) -> None:
    """Move the database on ``connection`` up or down to ``revision``."""
    config = alembic_config()
    config.attributes["connection"] = connection
    if revision == "head":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


async def test_report_indexes_migrate_down_and_up_keeping_the_numbers(
    database: TestDatabase,
) -> None:
    repo = database.repo
    await _two_lessons(repo)
    before = await repo.reports.summary("bio", min_words=20)

    async with database.engine.connect() as connection:
        await connection.run_sync(_migrate, "0002")
    assert await current_revision(database.engine) == "0002"
    assert await repo.reports.summary("bio", min_words=20) == before  # the older indexes answer too

    async with database.engine.connect() as connection:
        await connection.run_sync(_migrate, "head")
    assert await current_revision(database.engine) == head_revision()
    assert await repo.reports.summary("bio", min_words=20) == before
    assert {r.guild_id for r in await repo.replies.matching("bio")} == {GUILD}



async def test_answered_students_are_those_a_classmate_replied_to(database: TestDatabase) -> None:
    repo = database.repo
    [rome] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    [greece] = await post_lesson(repo, "hist", "greece", T0 + DAY, 1, base=200)
    await repo.replies.record([
        new_reply(rome, 1_001, ANN, T0 + HOUR, 5, name="Ann"),
        new_reply(rome, 1_002, BEN, T0 + 2 * HOUR, 5, name="Ben", reply_to=(1_001, ANN)),
        new_reply(rome, 1_003, BEN, T0 + 3 * HOUR, 5, name="Ben", reply_to=(1_002, BEN)),
        new_reply(greece, 2_001, CAT, T0 + DAY + HOUR, 5, name="Cat", reply_to=(1_002, BEN)),
        new_reply(greece, 2_002, ANN, T0 + DAY + HOUR, 5, name="Ann", reply_to=(2_001, CAT)),
    ])
    # Ben answering himself does not count; Ann's answer to Cat is deleted.
    await repo.replies.mark_deleted([2_002], T0 + 2 * DAY)
    assert await repo.reports.answered("hist") == {ANN, BEN}
    assert await repo.reports.answered("hist", lesson="rome") == {ANN}
    assert await repo.reports.answered("hist", lesson="greece") == {BEN}
    assert await repo.reports.answered("other") == set()

"""What grading reads: the SQL aggregate equals a recount from the replies, on both databases.

Random streams of replies, edits, deletions and extensions (seeded, so every run is the same)
are written through the repository as the bot writes them; then every student's
:class:`LessonWork` from :meth:`ReportStore.work` (the kept counts, recounted where stale) must
equal :func:`storage.reports.recount` over the stored replies, read in the middle of the
stream too. Separate tests pin the rules the stream relies on: an edit after the
due time keeps the words for grading, an extension re-marks late replies, the config's
extensions are stored without undoing a teacher's.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import func, select

from storage.models import LessonWorkRow
from storage.records import LessonWork, ReplyRecord
from storage.reports import GradedReply, recount
from storage.repository import Repository
from tests.databases import TestDatabase
from tests.storage.test_replies import ALICE, BOB, CAROL, DAVE, HOUR, T0, new_reply, post_lesson

STUDENTS = (ALICE, BOB, CAROL, DAVE, 1005)
DUE = T0 + 48 * HOUR  # post_lesson's due time: two days after posting
MIN_WORDS = 10


def late(at: dt.datetime, due: dt.datetime | None) -> bool:
    return due is not None and at > due


async def recounted(repo: Repository, course: str, *,
                    min_words: int = MIN_WORDS) -> list[LessonWork]:
    """Every student's LessonWork, recounted in Python from the stored replies."""
    posts = {p.id: p for p in await repo.posts.matching(course)}
    extended = {(e.user_id, e.lesson): e.due_at for e in await repo.extensions.of_course(course)}
    rows: dict[tuple[int, int], list[ReplyRecord]] = {}
    for reply in await repo.replies.matching(course, include_deleted=True):
        rows.setdefault((reply.author_id, reply.post_id), []).append(reply)
    work = []
    for (author, post_id), replies in sorted(rows.items()):
        own = extended.get((author, posts[post_id].lesson))
        due = own if own is not None else posts[post_id].due_at
        counted = recount([GradedReply(
            r.author_id, r.post_id, r.thread_id, r.reply_to_author_id, r.created_at,
            r.due_word_count if r.due_word_count is not None else r.word_count,
            r.due_word_count is not None, r.deleted_at) for r in replies],
            due, extended=own is not None, min_words=min_words)
        if counted is not None:
            work.append(counted)
    return work


async def stale_rows(repo: Repository, course: str) -> int:
    """Rows of the kept counts not counted at their current version."""
    w = LessonWorkRow
    async with repo.sessions() as session:
        return int(await session.scalar(select(func.count()).where(
            w.course == course, w.counted_version.is_distinct_from(w.version))) or 0)


def key(work: LessonWork) -> tuple[int, int]:
    return (work.author_id, work.post_id)


async def random_stream(repo: Repository, course: str, seed: int) -> None:
    """Replies, edits, deletions and extensions around two lessons' due times."""
    rng = random.Random(seed)
    lessons = [await post_lesson(repo, course, name, T0 + i * 24 * HOUR, 3,
                                 base=1_000_000 * (seed + 1) + 10_000 * i)
               for i, name in enumerate(("rome", "greece"))]
    sent: list[tuple[int, int, dt.datetime]] = []  # message id, author, time
    message_id = 1_000_000 * (seed + 1) + 500_000
    extended: dict[tuple[str, int], dt.datetime] = {}  # as the listener knows them
    for step in range(rng.randrange(10, 40)):
        if step % 7 == 6:  # grading reads (and keeps) the counts now and then, mid-stream
            assert sorted(await repo.reports.work(course, min_words=MIN_WORDS), key=key) == (
                await recounted(repo, course)), f"seed {seed}, step {step}"
        action = rng.random()
        threads = rng.choice(lessons)
        if action < 0.6 or not sent:
            thread = rng.choice(threads)
            author = rng.choice(STUDENTS)
            at = T0 + rng.randrange(0, 120) * HOUR
            message_id += 1
            target = rng.choice(sent) if sent and rng.random() < 0.5 else None
            due = extended.get((thread.lesson, author), thread.due_at)
            reply = new_reply(thread, message_id, author, at, rng.randrange(1, 30),
                              reply_to=(target[0], target[1]) if target else None,
                              late=late(at, due))
            await repo.replies.record([reply])
            sent.append((message_id, author, at))
        elif action < 0.8:
            edited, _, at = rng.choice(sent)
            when = at + rng.randrange(1, 100) * HOUR
            await repo.replies.mark_edited(edited, when, rng.randrange(1, 30),
                                           rng.randrange(1, 200))
        elif action < 0.92:
            gone, _, at = rng.choice(sent)
            await repo.replies.mark_deleted([gone], at + rng.randrange(1, 100) * HOUR)
        else:
            lesson = rng.choice(("rome", "greece"))
            student = rng.choice(STUDENTS)
            until = T0 + rng.randrange(24, 150) * HOUR
            await repo.extensions.grant(course, lesson, student, until, granted_by=9)
            extended[(lesson, student)] = until


async def test_the_grading_query_equals_a_recount_of_random_streams(
    database: TestDatabase,
) -> None:
    repo = database.repo
    for seed in range(12):
        course = f"c{seed:02d}"
        await random_stream(repo, course, seed)
        from_sql = sorted(await repo.reports.work(course, min_words=MIN_WORDS), key=key)
        assert from_sql == await recounted(repo, course), f"seed {seed}"
        assert await stale_rows(repo, course) == 0  # the first read kept every count
        # Read again (all kept now), and under another policy's min_words, not kept.
        assert sorted(await repo.reports.work(course, min_words=MIN_WORDS), key=key) == (
            from_sql)
        other = sorted(await repo.reports.work(course, min_words=3, keep=False), key=key)
        assert other == await recounted(repo, course, min_words=3)
        assert sorted(await repo.reports.work(course, min_words=MIN_WORDS), key=key) == (
            from_sql)
        # Narrowed to a lesson or a student, the rows are the same ones.
        for student in STUDENTS[:2]:
            assert sorted(await repo.reports.work(course, min_words=MIN_WORDS,
                                                  author_id=student), key=key) == [
                w for w in from_sql if w.author_id == student]
        greece = {p.id for p in await repo.posts.matching(course) if p.lesson == "greece"}
        assert sorted(await repo.reports.work(course, min_words=MIN_WORDS, lesson="greece"),
                      key=key) == [w for w in from_sql if w.post_id in greece]


async def test_an_edit_after_the_due_time_keeps_the_words_it_had_then(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    await repo.replies.record([new_reply(thread, 1_001, ALICE, T0 + HOUR, 3)])
    await repo.replies.mark_edited(1_001, T0 + 2 * HOUR, 8, 48)  # before the due time
    await repo.replies.mark_edited(1_001, DUE + HOUR, 40, 240)  # after: padded
    await repo.replies.mark_edited(1_001, DUE + 2 * HOUR, 50, 300)  # and again
    record = await repo.replies.get(1_001)
    assert record is not None and (record.word_count, record.due_word_count) == (50, 8)
    [work] = await repo.reports.work("hist", min_words=MIN_WORDS)
    assert (work.substantive, work.on_time_questions, work.edited_after_due) == (0, 0, 1)
    # An extension reopens it: an edit before the new due time counts in full again.
    await repo.extensions.grant("hist", "rome", ALICE, DUE + 10 * HOUR, granted_by=9)
    await repo.replies.mark_edited(1_001, DUE + 3 * HOUR, 30, 180)
    record = await repo.replies.get(1_001)
    assert record is not None and (record.word_count, record.due_word_count) == (30, None)
    [work] = await repo.reports.work("hist", min_words=MIN_WORDS)
    assert (work.substantive, work.on_time_questions, work.extended) == (1, 1, True)


async def test_a_reply_deleted_after_the_due_time_still_counts_for_grading(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    await repo.replies.record([new_reply(thread, 1_001, ALICE, T0 + HOUR, 20),
                               new_reply(thread, 1_002, BOB, T0 + HOUR, 20)])
    await repo.replies.mark_deleted([1_001], DUE + HOUR)  # after: kept, marked
    await repo.replies.mark_deleted([1_002], DUE - HOUR)  # before: counts for nothing
    assert [(w.author_id, w.replies, w.deleted_after_due) for w in
            await repo.reports.work("hist", min_words=MIN_WORDS)] == [(ALICE, 1, 1)]
    assert await repo.reports.summary("hist") == []  # the participation report leaves both out


async def test_an_extension_marks_a_students_replies_against_their_own_due_time(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    await repo.replies.record([
        new_reply(thread, 1_001, ALICE, DUE + HOUR, 20, late=True),
        new_reply(thread, 1_002, ALICE, DUE + 5 * HOUR, 20, late=True),
        new_reply(thread, 1_003, BOB, DUE + HOUR, 20, late=True)])
    assert await repo.extensions.grant("hist", "rome", ALICE, DUE + 2 * HOUR,
                                       granted_by=9) == 1
    marks = {r.message_id: r.late for r in await repo.replies.matching("hist")}
    assert marks == {1_001: False, 1_002: True, 1_003: True}
    # The config's extensions: stored, but a teacher's /extend is kept over them ...
    assert await repo.extensions.sync_config("hist", [("rome", ALICE, DUE + 9 * HOUR),
                                                      ("rome", BOB, DUE + 9 * HOUR)]) == 1
    stored = {(e.user_id, e.source, e.due_at) for e in await repo.extensions.of_course("hist")}
    assert stored == {(ALICE, "command", DUE + 2 * HOUR), (BOB, "config", DUE + 9 * HOUR)}
    # ... and one taken out of the config is gone, its student marked as before.
    assert await repo.extensions.sync_config("hist", []) == 1
    assert {e.user_id for e in await repo.extensions.of_course("hist")} == {ALICE}
    marks = {r.message_id: r.late for r in await repo.replies.matching("hist")}
    assert marks == {1_001: False, 1_002: True, 1_003: True}
    assert (await repo.extensions.sync_config("hist", [])) == 0  # nothing left to do
    assert CAROL not in {e.user_id for e in await repo.extensions.all()}

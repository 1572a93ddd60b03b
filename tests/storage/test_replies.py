"""Replies are recorded once, edits and deletes tracked, and summaries count them exactly."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from storage.records import NewReply, StudentTotals, ThreadInfo
from storage.repository import Repository
from tests.databases import TestDatabase
from tests.records import advance_cursor, audit_log, cursor, reminded, replies_of

T0 = dt.datetime(2026, 9, 7, 7, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
GUILD = 4242
ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004


async def post_lesson(
    repo: Repository, course: str, lesson: str, at: dt.datetime, questions: int, base: int
) -> list[ThreadInfo]:
    """Claim, send and mark posted a lesson with one thread per question (ids from base)."""
    post_id = await repo.posts.claim(course, lesson, at, at + dt.timedelta(days=2), "test")
    assert post_id is not None
    await repo.posts.record_message(post_id, channel_id=base, message_id=base)
    for question in range(questions):
        await repo.posts.record_thread(post_id, question, base + 1 + question, created_at=at)
    await repo.posts.mark(post_id, "posted", now=at)
    threads = [t for t in await repo.posts.open_threads(course=course) if t.post_id == post_id]
    assert len(threads) == questions
    return threads


def new_reply(
    thread: ThreadInfo,
    message_id: int,
    author_id: int,
    at: dt.datetime,
    words: int,
    *,
    name: str | None = None,
    reply_to: tuple[int, int] | None = None,
    late: bool = False,
    text: str | None = None,
) -> NewReply:
    """A reply in ``thread`` the way the listener would build it."""
    return NewReply(
        message_id=message_id,
        thread_id=thread.thread_id,
        post_id=thread.post_id,
        question_index=thread.question_index,
        course=thread.course,
        lesson=thread.lesson,
        guild_id=GUILD,
        author_id=author_id,
        author_name=name or f"student {author_id}",
        created_at=at,
        word_count=words,
        char_count=words * 6,
        reply_to_message_id=reply_to[0] if reply_to else None,
        reply_to_author_id=reply_to[1] if reply_to else None,
        late=late,
        text=text,
    )


async def test_recording_the_same_reply_again_changes_nothing(database: TestDatabase) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, 100)
    first = [new_reply(thread, 200 + i, ALICE, T0 + i * HOUR, 10) for i in range(3)]
    assert await repo.replies.record(first) == 3

    # A duplicated event carries different counts: the first record stands.
    again = [new_reply(thread, 200, ALICE, T0, 99), new_reply(thread, 203, BOB, T0, 4)]
    assert await repo.replies.record(again) == 1
    assert await repo.replies.record(again + again) == 0
    assert await repo.replies.record([]) == 0

    stored = await repo.replies.get(200)
    assert stored is not None
    assert stored.word_count == 10
    assert [s.replies for s in await repo.reports.summary("hist")] == [3, 1]


async def test_a_duplicate_inside_one_batch_counts_once(database: TestDatabase) -> None:
    [thread] = await post_lesson(database.repo, "hist", "rome", T0, 1, 100)
    reply = new_reply(thread, 300, ALICE, T0, 5)
    assert await database.repo.replies.record([reply, reply]) == 1


async def test_a_large_batch_is_recorded_whole(database: TestDatabase) -> None:
    [thread] = await post_lesson(database.repo, "hist", "rome", T0, 1, 100)
    replies = [new_reply(thread, 10_000 + i, 2000 + i % 40, T0, 3) for i in range(1_234)]
    assert await database.repo.replies.record(replies) == 1_234
    summary = await database.repo.reports.summary("hist")
    assert len(summary) == 40
    assert sum(s.replies for s in summary) == 1_234


async def test_times_come_back_aware_in_utc(database: TestDatabase) -> None:
    [thread] = await post_lesson(database.repo, "hist", "rome", T0, 1, 100)
    paris = (T0 + HOUR).astimezone(ZoneInfo("Europe/Paris"))
    await database.repo.replies.record([new_reply(thread, 400, ALICE, paris, 5)])

    stored = await database.repo.replies.get(400)
    assert stored is not None
    assert stored.created_at == T0 + HOUR
    assert stored.created_at.tzinfo is dt.UTC
    [summary] = await database.repo.reports.summary("hist")
    assert summary.first_reply_at == T0 + HOUR
    assert summary.first_reply_at.tzinfo is dt.UTC
    assert thread.scheduled_at.tzinfo is dt.UTC


async def test_a_naive_time_is_refused(database: TestDatabase) -> None:
    [thread] = await post_lesson(database.repo, "hist", "rome", T0, 1, 100)
    naive = dt.datetime(2026, 9, 7, 9, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(StatementError, match="naive datetime"):
        await database.repo.replies.record([new_reply(thread, 401, ALICE, naive, 5)])
    assert await database.repo.replies.get(401) is None


async def test_a_reply_must_belong_to_a_recorded_post(database: TestDatabase) -> None:
    [thread] = await post_lesson(database.repo, "hist", "rome", T0, 1, 100)
    orphan = new_reply(thread, 402, ALICE, T0, 5)
    orphan = NewReply(**{**{f: getattr(orphan, f) for f in orphan.__slots__}, "post_id": 999})
    with pytest.raises(IntegrityError):
        await database.repo.replies.record([orphan])


async def test_edits_update_counts_and_deletes_are_marked_not_erased(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, 100)
    await repo.replies.record(
        [new_reply(thread, 500, ALICE, T0, 4, text="too short"), new_reply(thread, 501, BOB, T0, 6)]
    )

    assert await repo.replies.mark_edited(500, T0 + 2 * HOUR, 12, 70, text="now a longer reply")
    # An older edit event arriving late does not undo the newer one.
    assert not await repo.replies.mark_edited(500, T0 + HOUR, 8, 40, text="stale")
    assert not await repo.replies.mark_edited(777, T0, 1, 1)  # not a recorded reply
    edited = await repo.replies.get(500)
    assert edited is not None
    assert (edited.word_count, edited.char_count, edited.text) == (12, 70, "now a longer reply")
    assert edited.edited_at == T0 + 2 * HOUR

    assert await repo.replies.mark_deleted([501], T0 + 3 * HOUR)
    assert not await repo.replies.mark_deleted([501], T0 + 4 * HOUR)
    # A deleted reply stays as it was.
    assert not await repo.replies.mark_edited(501, T0 + 5 * HOUR, 50, 300)
    assert await repo.replies.mark_deleted([500, 501, 888], T0 + 4 * HOUR) == 1

    assert await repo.reports.summary("hist") == []
    assert await repo.replies.matching("hist") == []
    kept = await replies_of(repo, "hist", BOB)
    assert [(r.message_id, r.deleted_at, r.word_count) for r in kept] == [
        (501, T0 + 3 * HOUR, 6)
    ]


async def test_cursors_only_move_forward(database: TestDatabase) -> None:
    repo = database.repo
    assert await cursor(repo, 910) is None
    assert await advance_cursor(repo, 910, 1_000) == 1_000
    assert await advance_cursor(repo, 910, 500) == 1_000
    assert await advance_cursor(repo, 910, 1_500) == 1_500
    await repo.replies.record([], cursors={910: 1_200, 911: 42})
    assert await repo.replies.cursors() == {910: 1_500, 911: 42}
    assert await repo.replies.cursors([911, 912]) == {911: 42}

    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, 100)
    backfilled = [new_reply(thread, 2_000, ALICE, T0, 3), new_reply(thread, 2_001, BOB, T0, 3)]
    assert await repo.replies.record(backfilled, cursors={thread.thread_id: 2_001}) == 2
    assert await cursor(repo, thread.thread_id) == 2_001


async def _class_discussion(repo: Repository) -> tuple[list[ThreadInfo], list[ThreadInfo]]:
    """Two lessons of 'hist' and one of 'geo' with replies whose totals the tests know."""
    rome = await post_lesson(repo, "hist", "rome", T0, 2, 100)
    greece = await post_lesson(repo, "hist", "greece", T0 + dt.timedelta(days=7), 1, 200)
    [maps] = await post_lesson(repo, "geo", "maps", T0, 1, 300)
    day8 = T0 + dt.timedelta(days=8)
    await repo.replies.record(
        [
            new_reply(rome[0], 1_101, ALICE, T0 + HOUR, 10, name="Alice"),
            new_reply(rome[0], 1_201, BOB, T0 + 2 * HOUR, 5, name="Bob"),
            new_reply(rome[1], 1_102, ALICE, T0 + 3 * HOUR, 3, name="Alice",
                      reply_to=(1_201, BOB)),
            new_reply(rome[0], 1_202, BOB, T0 + 4 * HOUR, 7, name="Bob", reply_to=(1_201, BOB)),
            new_reply(rome[0], 1_203, BOB, T0 + 5 * HOUR, 8, name="Bob"),
            new_reply(rome[1], 1_301, CAROL, T0 + 6 * HOUR, 4, name="Carol",
                      reply_to=(1_102, ALICE)),
            new_reply(greece[0], 1_103, ALICE, day8 + 72 * HOUR, 20, name="Alice B.", late=True),
            new_reply(maps, 1_401, DAVE, T0 + HOUR, 9, name="Dave"),
        ]
    )
    await repo.replies.mark_deleted([1_203], T0 + 6 * HOUR)
    return rome, greece


async def test_course_summary_counts_each_student_exactly(database: TestDatabase) -> None:
    await _class_discussion(database.repo)
    summary = await database.repo.reports.summary("hist", min_words=5)

    assert summary == [
        StudentTotals(
            author_id=ALICE, author_name="Alice B.", replies=3, substantive_replies=2,
            words=33, questions_answered=3, peer_replies=1, late_replies=1,
            first_reply_at=T0 + HOUR,
        ),
        StudentTotals(
            author_id=BOB, author_name="Bob", replies=2, substantive_replies=2, words=12,
            questions_answered=1, peer_replies=0, late_replies=0, first_reply_at=T0 + 2 * HOUR,
        ),
        StudentTotals(
            author_id=CAROL, author_name="Carol", replies=1, substantive_replies=0, words=4,
            questions_answered=1, peer_replies=1, late_replies=0, first_reply_at=T0 + 6 * HOUR,
        ),
    ]


async def test_lesson_student_and_checkpoint_summaries(database: TestDatabase) -> None:
    _, greece = await _class_discussion(database.repo)
    repo = database.repo

    by_lesson = {s.author_id: s for s in await repo.reports.summary("hist", lesson="rome")}
    assert sorted(by_lesson) == [ALICE, BOB, CAROL]
    alice = by_lesson[ALICE]
    assert (alice.replies, alice.words, alice.questions_answered, alice.peer_replies) == (
        2, 13, 2, 1,
    )
    assert (alice.late_replies, alice.author_name) == (0, "Alice")
    assert await repo.reports.summary("hist", post_id=greece[0].post_id, author_id=CAROL) == []
    [late] = await repo.reports.summary("hist", post_id=greece[0].post_id)
    assert (late.author_id, late.replies, late.late_replies) == (ALICE, 1, 1)

    [mine] = await repo.reports.summary("hist", author_id=BOB)
    assert (mine.replies, mine.words) == (2, 12)

    # A checkpoint "by T0 + 3h" sees only what was written before then.
    before = await repo.reports.summary("hist", until=T0 + 3 * HOUR)
    early = {s.author_id: s.replies for s in before}
    assert early == {ALICE: 1, BOB: 1}
    # Substantive peer replies: to another student, and long enough.
    peers = {s.author_id: (s.peer_replies, s.substantive_peer_replies)
             for s in await repo.reports.summary("hist", min_words=4)}
    assert peers == {ALICE: (1, 0), BOB: (0, 0), CAROL: (1, 1)}
    assert [s.author_id for s in await repo.reports.summary("geo")] == [DAVE]


async def test_lesson_totals_include_lessons_nobody_answered(database: TestDatabase) -> None:
    repo = database.repo
    await _class_discussion(repo)
    await post_lesson(repo, "hist", "carthage", T0 + dt.timedelta(days=14), 1, 400)

    lessons = await repo.reports.lesson_totals("hist")
    totals = [(t.lesson, t.replies, t.students, t.words) for t in lessons]
    assert totals == [("rome", 5, 3, 29), ("greece", 1, 1, 20), ("carthage", 0, 0, 0)]
    alices = [(t.lesson, t.replies, t.words) for t in await repo.reports.lesson_totals("hist",
                                                                               author_id=ALICE)]
    assert alices == [("rome", 2, 13), ("greece", 1, 20), ("carthage", 0, 0)]


async def test_export_rows_are_the_courses_replies_in_time_order(database: TestDatabase) -> None:
    await _class_discussion(database.repo)
    rows = await database.repo.replies.matching("hist", lesson="rome")
    assert [r.message_id for r in rows] == [1_101, 1_201, 1_102, 1_202, 1_301]
    assert {(r.course, r.lesson, r.guild_id) for r in rows} == {("hist", "rome", GUILD)}
    assert all(r.text is None for r in rows)  # text is kept only when the course opts in


async def test_forgetting_a_student_erases_their_records_only(database: TestDatabase) -> None:
    repo = database.repo
    rome, _ = await _class_discussion(repo)
    await repo.reminders.record(rome[0].post_id, [ALICE, BOB])
    await repo.reminders.set_opt_out("hist", ALICE, True)

    assert await repo.forget_student("hist", ALICE) == {
        "replies": 3, "reminders_sent": 1, "reminder_opt_outs": 1, "audit_log": 0,
        "extensions": 0, "lesson_work": 2, "roster": 0, "answers": 0}
    assert await replies_of(repo, "hist", ALICE) == []
    assert await reminded(repo, rome[0].post_id) == {BOB}
    assert await repo.reminders.opted_out("hist") == set()
    # Carol's reply to Alice still counts, but no longer names her.
    [carol] = await repo.reports.summary("hist", author_id=CAROL)
    assert carol.peer_replies == 1
    [row] = await replies_of(repo, "hist", CAROL)
    assert row.reply_to_author_id == 0
    assert [s.author_id for s in await repo.reports.summary("hist")] == [BOB, CAROL]
    assert sum((await repo.forget_student("hist", ALICE)).values()) == 0
    assert [s.author_id for s in await repo.reports.summary("geo")] == [DAVE]


async def test_purge_removes_replies_older_than_the_cutoff(database: TestDatabase) -> None:
    repo = database.repo
    await _class_discussion(repo)
    # Five replies to rome (one deleted) fall before day 7; the greece reply is after.
    assert await repo.purge_older_than("hist", T0 + dt.timedelta(days=7)) == 6
    left = await repo.replies.matching("hist", include_deleted=True)
    assert [r.message_id for r in left] == [1_103]
    assert [s.author_id for s in await repo.reports.summary("geo")] == [DAVE]


async def test_reminders_go_once_and_respect_opt_outs(database: TestDatabase) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, 100)
    assert await repo.reminders.record(thread.post_id, [ALICE, BOB]) == [ALICE, BOB]
    assert await repo.reminders.record(thread.post_id, [BOB, CAROL, CAROL]) == [CAROL]
    assert await reminded(repo, thread.post_id) == {ALICE, BOB, CAROL}
    # A reminder that could not be sent is released, so the next one goes.
    assert await repo.reminders.release(thread.post_id, [CAROL, DAVE]) == 1
    assert await repo.reminders.record(thread.post_id, [CAROL]) == [CAROL]

    await repo.reminders.set_opt_out("hist", BOB, True)
    await repo.reminders.set_opt_out("hist", BOB, True)
    await repo.reminders.set_opt_out("hist", CAROL, True)
    await repo.reminders.set_opt_out("hist", CAROL, False)
    assert await repo.reminders.opted_out("hist") == {BOB}
    assert await repo.reminders.opted_out("geo") == set()


async def test_audit_log_lists_teacher_actions_newest_first(database: TestDatabase) -> None:
    repo = database.repo
    await repo.audit.add("hist", 77, "post", "rome posted now", at=T0)
    await repo.audit.add("hist", 77, "export", "participation CSV", at=T0 + HOUR)
    await repo.audit.add("hist", None, "skip", "greece: holiday", at=T0 + 2 * HOUR)
    await repo.audit.add("geo", 78, "forget", "student 1004", at=T0)

    log = await audit_log(repo, "hist")
    assert [(e.actor_id, e.action, e.detail) for e in log] == [
        (None, "skip", "greece: holiday"),
        (77, "export", "participation CSV"),
        (77, "post", "rome posted now"),
    ]
    assert log[0].at == T0 + 2 * HOUR and log[0].at.tzinfo is dt.UTC
    assert [e.action for e in await audit_log(repo, "hist", action="post")] == ["post"]
    assert len(await audit_log(repo, "hist", since=T0 + HOUR, limit=1)) == 1

"""Forgetting a student and the retention purge, on a real database, with their audit lines."""

from __future__ import annotations

import datetime as dt

from bot import privacy
from bot.core.config import CourseSettings
from tests.databases import TestDatabase
from tests.records import audit_log, replies_of
from tests.storage.test_replies import ALICE, BOB, HOUR, T0, new_reply, post_lesson

DAY = dt.timedelta(days=1)


def course(name: str, retention_days: int) -> CourseSettings:
    return CourseSettings(name=name, guild_id=1, channel_id=2 if name == "hist" else 3,
                          retention_days=retention_days)


async def test_forgetting_a_student_erases_their_replies_and_says_so_in_the_audit_log(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    await repo.replies.record([new_reply(thread, 1_001, ALICE, T0 + HOUR, 5),
                               new_reply(thread, 1_002, ALICE, T0 + 2 * HOUR, 5),
                               new_reply(thread, 1_003, BOB, T0 + 3 * HOUR, 5)])
    assert await privacy.forget_student(repo, "hist", ALICE, actor_id=77) == 2
    assert await replies_of(repo, "hist", ALICE) == []
    assert len(await replies_of(repo, "hist", BOB)) == 1
    [entry] = await audit_log(repo, "hist", action="forget")
    assert (entry.actor_id, entry.detail) == (77, f"student {ALICE}: 2 replies deleted")


async def test_the_purge_keeps_each_course_for_its_own_retention(database: TestDatabase) -> None:
    repo = database.repo
    [hist] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    [geo] = await post_lesson(repo, "geo", "rivers", T0, 1, base=200)
    await repo.replies.record([new_reply(hist, 1_001, ALICE, T0 + HOUR, 5),
                               new_reply(hist, 1_002, ALICE, T0 + 40 * DAY, 5),
                               new_reply(geo, 2_001, BOB, T0 + HOUR, 5)])
    courses = {"hist": course("hist", 30), "geo": course("geo", 365)}
    now = T0 + 45 * DAY
    assert await privacy.purge_expired(repo, courses, now) == {"hist": 1, "geo": 0}
    assert [r.message_id for r in await replies_of(repo, "hist", ALICE)] == [1_002]
    assert len(await replies_of(repo, "geo", BOB)) == 1
    [entry] = await audit_log(repo, "hist", action="purge")
    assert entry.actor_id is None
    assert entry.detail.startswith("1 replies older than 30 days (before ")
    assert await audit_log(repo, "geo", action="purge") == []
    # Purging again finds nothing more: it is safe to run every day and at every start.
    assert await privacy.purge_expired(repo, courses, now) == {"hist": 0, "geo": 0}


async def test_the_counts_kept_for_grading_go_with_the_replies_they_came_from(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [rome] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    [greece] = await post_lesson(repo, "hist", "greece", T0 + 40 * DAY, 1, base=200)
    await repo.replies.record([new_reply(rome, 1_001, ALICE, T0 + HOUR, 25),
                               new_reply(greece, 1_002, ALICE, T0 + 40 * DAY, 25),
                               new_reply(rome, 1_003, BOB, T0 + HOUR, 25)])
    assert len(await repo.reports.work("hist", min_words=10)) == 3  # counted and kept

    async def kept() -> set[tuple[int, str]]:
        lessons = {p.id: p.lesson for p in await repo.posts.matching("hist")}
        data = {user: await repo.export_student("hist", user) for user in (ALICE, BOB)}
        return {(user, lessons[row["post_id"]]) for user, d in data.items()
                for row in d["lesson_work"]}

    assert await kept() == {(ALICE, "rome"), (ALICE, "greece"), (BOB, "rome")}
    await privacy.purge_expired(repo, {"hist": course("hist", 30)}, T0 + 45 * DAY)
    assert await kept() == {(ALICE, "greece")}  # rome's replies are gone, so are its counts
    await privacy.forget_student(repo, "hist", ALICE, actor_id=77)
    assert await kept() == set()
    assert await repo.reports.work("hist", min_words=10) == []

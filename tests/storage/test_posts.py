"""Lesson posts are claimed exactly once, even by racing engines and processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from storage.models import LessonPost
from tests.databases import TestDatabase
from tests.records import stale_claims

ROOT = Path(__file__).resolve().parents[2]
T0 = dt.datetime(2026, 9, 7, 7, 0, tzinfo=dt.UTC)
DUE = T0 + dt.timedelta(days=7)
STALE = dt.timedelta(minutes=10)


async def _count_posts(database: TestDatabase) -> int:
    async with database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(LessonPost)) or 0)


async def test_an_occurrence_is_claimed_once(database: TestDatabase) -> None:
    repo = database.repo
    first = await repo.posts.claim("hist", "rome", T0, DUE, "proc-a")
    second = await repo.posts.claim("hist", "rome", T0, DUE, "proc-b")

    assert first is not None
    assert second is None
    post = await repo.posts.get(first)
    assert post is not None
    assert (post.status, post.claimed_by, post.attempts) == ("claimed", "proc-a", 1)
    # Another week, or another course, is another occurrence.
    assert await repo.posts.claim("hist", "rome", T0 + dt.timedelta(days=7), None, "b")
    assert await repo.posts.claim("geo", "rome", T0, DUE, "proc-b")


async def test_same_instant_in_another_zone_is_the_same_occurrence(database: TestDatabase) -> None:
    paris = T0.astimezone(ZoneInfo("Europe/Paris"))
    assert await database.repo.posts.claim("hist", "rome", T0, DUE, "a") is not None
    assert await database.repo.posts.claim("hist", "rome", paris, DUE, "b") is None
    post = await database.repo.posts.find("hist", "rome", paris)
    assert post is not None
    assert post.scheduled_at == T0
    assert post.scheduled_at.tzinfo is dt.UTC
    assert post.due_at is not None and post.due_at.tzinfo is dt.UTC


async def test_two_engines_racing_win_each_post_once(database: TestDatabase) -> None:
    repos = [database.new_repository(), database.new_repository()]
    lessons = [f"lesson-{i}" for i in range(15)]
    attempts = [
        repo.posts.claim("hist", lesson, T0, DUE, f"engine-{n}")
        for lesson in lessons
        for n, repo in enumerate(repos)
    ]
    results = await asyncio.gather(*attempts)

    wins = [results[i : i + 2] for i in range(0, len(results), 2)]
    assert all(sum(r is not None for r in pair) == 1 for pair in wins)
    assert await _count_posts(database) == len(lessons)


async def test_two_processes_racing_win_each_post_once(database: TestDatabase) -> None:
    count = 20
    racers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.storage.claim_worker",
            database.url, f"process-{n}", str(count), T0.isoformat(),
            cwd=ROOT, stdin=PIPE, stdout=PIPE, stderr=PIPE,
        )
        for n in range(2)
    ]
    for racer in racers:
        assert racer.stdout is not None
        assert await racer.stdout.readline() == b"ready\n"
    for racer in racers:
        assert racer.stdin is not None
        racer.stdin.write(b"go\n")
        await racer.stdin.drain()
    outputs = [await racer.communicate() for racer in racers]

    assert [r.returncode for r in racers] == [0, 0], [err.decode() for _, err in outputs]
    won = [set(json.loads(out)) for out, _ in outputs]
    assert won[0].isdisjoint(won[1])
    assert won[0] | won[1] == {f"lesson-{i}" for i in range(count)}
    assert await _count_posts(database) == count


async def test_a_stale_claim_is_taken_over_once_and_then_completed(
    database: TestDatabase,
) -> None:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, DUE, "crashed", now=T0)
    assert post_id is not None
    # The crashed process sent the lesson message and one of two threads.
    await repo.posts.record_message(post_id, channel_id=500, message_id=501)
    assert await repo.posts.record_thread(post_id, 0, 510, 510, created_at=T0)

    fresh = T0 + dt.timedelta(minutes=5)
    assert await repo.posts.claim("hist", "rome", T0, DUE, "b", stale_after=STALE,
                                  now=fresh) is None
    later = T0 + dt.timedelta(minutes=11)
    assert await repo.posts.claim("hist", "rome", T0, DUE, "b", stale_after=STALE, now=later) == (
        post_id
    )
    # b's claim is fresh, so c cannot take it.
    assert not await repo.posts.take_over(post_id, "c", stale_after=STALE, now=later)

    post = await repo.posts.get(post_id)
    assert post is not None
    assert (post.claimed_by, post.attempts, post.message_id) == ("b", 2, 501)
    assert [t.question_index for t in await repo.posts.threads_of(post_id)] == [0]
    assert await repo.posts.record_thread(post_id, 1, 511, 511, created_at=later)

    # The crashed process comes back: it may not overwrite b's outcome.
    assert not await repo.posts.mark(post_id, "failed", "timeout", claimant="crashed")
    assert await repo.posts.mark(post_id, "posted", claimant="b", late=True, now=later)
    post = await repo.posts.get(post_id)
    assert post is not None
    assert (post.status, post.posted_at, post.late) == ("posted", later, True)
    # A finished post is never taken over.
    day_later = T0 + dt.timedelta(days=1)
    assert not await repo.posts.take_over(post_id, "d", stale_after=STALE, now=day_later)
    assert await stale_claims(repo, STALE, now=day_later) == []


async def test_touching_a_claim_keeps_it_from_going_stale(database: TestDatabase) -> None:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, DUE, "slow", now=T0)
    assert post_id is not None
    assert await repo.posts.touch_claim(post_id, "slow", now=T0 + dt.timedelta(minutes=9))
    assert not await repo.posts.touch_claim(post_id, "someone-else")

    at_12 = T0 + dt.timedelta(minutes=12)
    assert await stale_claims(repo, STALE, now=at_12) == []
    assert not await repo.posts.take_over(post_id, "b", stale_after=STALE, now=at_12)
    at_20 = T0 + dt.timedelta(minutes=20)
    assert [p.id for p in await stale_claims(repo, STALE, now=at_20)] == [post_id]
    assert await repo.posts.take_over(post_id, "b", stale_after=STALE, now=at_20)
    assert not await repo.posts.touch_claim(post_id, "slow")


async def test_a_claim_whose_holder_is_gone_is_taken_over_at_once_and_only_from_it(
    database: TestDatabase,
) -> None:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, DUE, "killed", now=T0)
    assert post_id is not None
    moments_later = T0 + dt.timedelta(seconds=7)
    # Another holder's fresh claim stays: only the holder known to be gone loses it.
    assert not await repo.posts.take_over(post_id, "b", stale_after=STALE, now=moments_later,
                                          gone_holder="someone-else")
    assert await repo.posts.take_over(post_id, "b", stale_after=STALE, now=moments_later,
                                      gone_holder="killed")
    # b now holds it, fresh: a second process told the same cannot take it from b.
    assert not await repo.posts.take_over(post_id, "c", stale_after=STALE, now=moments_later,
                                          gone_holder="killed")
    post = await repo.posts.get(post_id)
    assert post is not None and (post.claimed_by, post.attempts) == ("b", 2)


async def test_a_failed_post_is_reclaimed_once_to_complete_it(database: TestDatabase) -> None:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, DUE, "bot", now=T0)
    assert post_id is not None
    assert not await repo.posts.reclaim_failed(post_id, "teacher-retry")  # not failed: in progress
    await repo.posts.mark(post_id, "failed", "thread refused", claimant="bot")
    later = T0 + dt.timedelta(hours=1)
    assert await repo.posts.reclaim_failed(post_id, "teacher-retry", now=later)
    assert not await repo.posts.reclaim_failed(post_id, "second-teacher")  # one of two wins
    post = await repo.posts.get(post_id)
    assert post is not None
    assert (post.status, post.reason, post.claimed_by, post.claimed_at, post.attempts) == (
        "claimed", None, "teacher-retry", later, 2)
    assert await repo.posts.touch_claim(post_id, "teacher-retry")


async def test_a_skipped_occurrence_is_never_claimed(database: TestDatabase) -> None:
    repo = database.repo
    skipped = await repo.posts.skip_occurrence("hist", "rome", T0, DUE, "teacher", "holiday")
    assert skipped is not None
    assert await repo.posts.claim("hist", "rome", T0, DUE, "bot") is None
    assert await repo.posts.skip_occurrence("hist", "rome", T0, DUE, "teacher", "again") is None
    post = await repo.posts.get(skipped)
    assert post is not None
    assert (post.status, post.reason) == ("skipped", "holiday")


async def test_post_queries_list_by_course_time_and_status(database: TestDatabase) -> None:
    repo = database.repo
    ids = []
    for week in range(4):
        at = T0 + dt.timedelta(days=7 * week)
        due = at + dt.timedelta(days=2)
        post_id = await repo.posts.claim("hist", f"lesson-{week}", at, due, "a")
        assert post_id is not None
        ids.append(post_id)
    await repo.posts.claim("geo", "maps", T0, None, "a")
    for post_id in ids[:3]:
        await repo.posts.mark(post_id, "posted", now=T0)
    await repo.posts.mark(ids[3], "failed", "Missing Permissions in #history")

    posts = await repo.posts.matching("hist")
    assert [p.lesson for p in posts] == [f"lesson-{w}" for w in range(4)]
    assert [p.lesson for p in await repo.posts.recent("hist", limit=2)] == [
        "lesson-3",
        "lesson-2",
    ]
    week1, week3 = T0 + dt.timedelta(days=7), T0 + dt.timedelta(days=21)
    window = await repo.posts.matching("hist", since=week1, until=week3)
    assert [p.lesson for p in window] == ["lesson-1", "lesson-2"]
    failed = await repo.posts.matching("hist", statuses=["failed"])
    assert [(p.lesson, p.reason) for p in failed] == [
        ("lesson-3", "Missing Permissions in #history")
    ]
    latest = await repo.posts.latest("hist")
    assert latest is not None and latest.lesson == "lesson-2"
    due_soon = await repo.posts.due_between(T0, T0 + dt.timedelta(days=10))
    assert [p.lesson for p in due_soon] == ["lesson-0", "lesson-1"]
    posts = await repo.posts.matching()
    assert [p.course for p in posts] == ["hist", "geo", "hist", "hist", "hist"]


async def test_threads_map_for_the_reply_listener(database: TestDatabase) -> None:
    repo = database.repo
    post_id = await repo.posts.claim("hist", "rome", T0, DUE, "a")
    assert post_id is not None
    await repo.posts.record_message(post_id, channel_id=900, message_id=901)
    assert await repo.posts.record_thread(post_id, 0, 910, 910, created_at=T0)
    assert await repo.posts.record_thread(post_id, 1, 911, None, created_at=T0)
    assert not await repo.posts.record_thread(post_id, 1, 912, None)  # question 1 has its thread
    assert not await repo.posts.record_thread(post_id, 2, 911, None)  # thread 911 is taken

    info = await repo.posts.thread_info(911)
    assert info is not None
    assert (info.course, info.lesson, info.post_id, info.question_index) == (
        "hist", "rome", post_id, 1,
    )
    assert (info.due_at, info.channel_id, info.locked) == (DUE, 900, False)
    assert await repo.posts.thread_info(12345) is None
    assert [t.thread_id for t in await repo.posts.open_threads()] == [910, 911]

    assert await repo.posts.threads_to_lock(DUE - dt.timedelta(seconds=1)) == []
    to_lock = await repo.posts.threads_to_lock(DUE)
    assert [t.thread_id for t in to_lock] == [910, 911]
    assert await repo.posts.mark_threads_locked([910]) == 1
    assert [t.thread_id for t in await repo.posts.open_threads()] == [911]
    assert len(await repo.posts.open_threads(include_locked=True)) == 2
    assert [t.thread_id for t in await repo.posts.threads_to_lock(DUE)] == [911]

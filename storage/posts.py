"""Lesson posts (one per occurrence of a lesson) and their question threads.

A post is claimed before anything is sent: the unique key (course, lesson, scheduled time)
lets exactly one process win, and a guarded UPDATE hands a stale claim to exactly one other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from typing import Any, get_args

from sqlalchemy import ColumnElement, Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import LessonPost, QuestionThread
from storage.records import Post, PostStatus, Thread, ThreadInfo, from_row, utcnow


def _thread_info(thread: QuestionThread, post: LessonPost) -> ThreadInfo:
    return from_row(ThreadInfo, post, thread_id=thread.thread_id, post_id=post.id,
                    question_index=thread.question_index, locked=thread.locked)


def _occurrence(course: str, lesson: str,
                scheduled_at: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The conditions that pick one occurrence's post (its unique key)."""
    return (LessonPost.course == course, LessonPost.lesson == lesson,
            LessonPost.scheduled_at == scheduled_at)


class PostStore(Store):
    """Claims, occurrences, lesson posts and question threads."""

    async def claim(
        self,
        course: str,
        lesson: str,
        scheduled_at: dt.datetime,
        due_at: dt.datetime | None,
        claimant: str,
        *,
        stale_after: dt.timedelta | None = None,
        now: dt.datetime | None = None,
    ) -> int | None:
        """Claim an occurrence for posting; the post id if this claimant won, else None.

        Exactly one claimant wins an occurrence, across processes. With ``stale_after``, an
        existing claim that was never completed and is older than that is taken over (the
        process that held it is presumed dead): the caller then completes the half-finished
        post from what :meth:`get` and :meth:`threads_of` say was already sent.
        """
        now = now or utcnow()
        stmt = self._insert_occurrence(course, lesson, scheduled_at, due_at, claimant, now,
                                       status="claimed", attempts=1)
        async with self._sessions.begin() as session:
            post_id = (await session.execute(stmt)).scalar_one_or_none()
            if post_id is not None or stale_after is None:
                return post_id
            existing = await session.scalar(
                select(LessonPost.id).where(*_occurrence(course, lesson, scheduled_at)))
            if existing is None:
                return None
            return await self._take_over_in(session, existing, claimant, now - stale_after, now)

    def _insert_occurrence(self, course: str, lesson: str, scheduled_at: dt.datetime,
                           due_at: dt.datetime | None, claimant: str, now: dt.datetime, *,
                           status: PostStatus, attempts: int, reason: str | None = None) -> Any:
        """INSERT an occurrence's post row unless one exists (the unique key decides)."""
        return (
            self._insert(LessonPost)
            .values(
                course=course,
                lesson=lesson,
                scheduled_at=scheduled_at,
                due_at=due_at,
                status=status,
                reason=reason,
                claimed_by=claimant,
                claimed_at=now,
                attempts=attempts,
                late=False,
            )
            .on_conflict_do_nothing(index_elements=["course", "lesson", "scheduled_at"])
            .returning(LessonPost.id)
        )

    async def take_over(
        self,
        post_id: int,
        claimant: str,
        *,
        stale_after: dt.timedelta,
        now: dt.datetime | None = None,
        gone_holder: str | None = None,
    ) -> bool:
        """Take over a claim left unfinished for longer than ``stale_after``; True if won.

        With ``gone_holder`` (a claimant known to have stopped), a claim still held by it is
        taken over at once, however fresh.
        """
        now = now or utcnow()
        async with self._sessions.begin() as session:
            won = await self._take_over_in(session, post_id, claimant, now - stale_after, now,
                                        gone_holder=gone_holder)
        return won is not None

    async def _take_over_in(
        self,
        session: AsyncSession,
        post_id: int,
        claimant: str,
        stale_before: dt.datetime,
        now: dt.datetime,
        *,
        gone_holder: str | None = None,
    ) -> int | None:
        """Move a stale claim to ``claimant`` in one guarded UPDATE (one winner)."""
        lapsed = LessonPost.claimed_at < stale_before
        if gone_holder is not None:
            lapsed = or_(lapsed, LessonPost.claimed_by == gone_holder)
        stmt = (
            update(LessonPost)
            .where(
                LessonPost.id == post_id,
                LessonPost.status == "claimed",
                lapsed,
            )
            .values(claimed_by=claimant, claimed_at=now, attempts=LessonPost.attempts + 1)
            .returning(LessonPost.id)
            .execution_options(synchronize_session=False)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def reclaim_failed(
        self, post_id: int, claimant: str, *, now: dt.datetime | None = None
    ) -> bool:
        """Claim a failed post again, to complete it; True if this claimant won it.

        One guarded UPDATE: of two teachers retrying at once, one completes the post.
        """
        stmt = (
            update(LessonPost)
            .where(LessonPost.id == post_id, LessonPost.status == "failed")
            .values(status="claimed", reason=None, claimed_by=claimant,
                    claimed_at=now or utcnow(), attempts=LessonPost.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1

    async def touch_claim(
        self, post_id: int, claimant: str, *, now: dt.datetime | None = None
    ) -> bool:
        """Refresh a claim during a long post; False means the claim is no longer ours."""
        stmt = (
            update(LessonPost)
            .where(
                LessonPost.id == post_id,
                LessonPost.status == "claimed",
                LessonPost.claimed_by == claimant,
            )
            .values(claimed_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1

    async def skip_occurrence(
        self,
        course: str,
        lesson: str,
        scheduled_at: dt.datetime,
        due_at: dt.datetime | None,
        claimant: str,
        reason: str,
        *,
        now: dt.datetime | None = None,
    ) -> int | None:
        """Record an occurrence as skipped unless it was already claimed; its id or None."""
        stmt = self._insert_occurrence(course, lesson, scheduled_at, due_at, claimant,
                                       now or utcnow(), status="skipped", attempts=0,
                                       reason=reason)
        async with self._sessions.begin() as session:
            return (await session.execute(stmt)).scalar_one_or_none()

    async def record_message(
        self, post_id: int, channel_id: int, message_id: int
    ) -> None:
        """Record the id of the sent lesson message (before its threads are opened)."""
        stmt = (
            update(LessonPost)
            .where(LessonPost.id == post_id)
            .values(channel_id=channel_id, message_id=message_id)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def mark_answer_first(self, post_id: int) -> bool:
        """Fix a post's mode as answer-first before anything of it is sent (idempotent).

        Nothing is changed once the lesson message was recorded: a post keeps the mode it was
        first sent in. True if the post is answer-first now.
        """
        async with self._sessions.begin() as session:
            await session.execute(
                update(LessonPost)
                .where(LessonPost.id == post_id, LessonPost.message_id.is_(None))
                .values(answer_first=True).execution_options(synchronize_session=False))
            return bool(await session.scalar(
                select(LessonPost.answer_first).where(LessonPost.id == post_id)))

    async def record_thread(
        self,
        post_id: int,
        question_index: int,
        thread_id: int,
        starter_message_id: int | None = None,
        *,
        created_at: dt.datetime | None = None,
    ) -> bool:
        """Record a question's thread; False if that question or thread was already recorded."""
        stmt = (
            self._insert(QuestionThread)
            .values(
                post_id=post_id,
                question_index=question_index,
                thread_id=thread_id,
                starter_message_id=starter_message_id,
                created_at=created_at or utcnow(),
                locked=False,
            )
            .on_conflict_do_nothing()
            .returning(QuestionThread.id)
        )
        async with self._sessions.begin() as session:
            return (await session.execute(stmt)).scalar_one_or_none() is not None

    async def mark(
        self,
        post_id: int,
        status: PostStatus,
        reason: str | None = None,
        *,
        claimant: str | None = None,
        late: bool | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Set a post's status (``posted`` also stamps ``posted_at``); True if it changed.

        With ``claimant``, only the current claim holder may change it, so a process whose
        stale claim was taken over cannot overwrite the new holder's outcome.
        """
        if status not in get_args(PostStatus):
            raise ValueError(f"unknown post status {status!r}")
        values: dict[str, Any] = {"status": status, "reason": reason}
        if status == "posted":
            values["posted_at"] = now or utcnow()
        if late is not None:
            values["late"] = late
        conditions: list[ColumnElement[bool]] = [LessonPost.id == post_id]
        if claimant is not None:
            conditions.append(LessonPost.claimed_by == claimant)
        stmt = (
            update(LessonPost)
            .where(*conditions)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt)) == 1

    async def get(self, post_id: int) -> Post | None:
        """The post with this id."""
        async with self._sessions() as session:
            row = await session.get(LessonPost, post_id)
            return from_row(Post, row) if row is not None else None

    async def find(
        self, course: str, lesson: str, scheduled_at: dt.datetime
    ) -> Post | None:
        """The post of one occurrence, if it was claimed or skipped."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(LessonPost).where(*_occurrence(course, lesson, scheduled_at)))
            return from_row(Post, row) if row is not None else None

    async def matching(
        self,
        course: str | None = None,
        *,
        lesson: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        statuses: Collection[PostStatus] | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Post]:
        """Posts scheduled in ``[since, until)``, filtered, in scheduled order."""
        stmt = select(LessonPost)
        if course is not None:
            stmt = stmt.where(LessonPost.course == course)
        if lesson is not None:
            stmt = stmt.where(LessonPost.lesson == lesson)
        if since is not None:
            stmt = stmt.where(LessonPost.scheduled_at >= since)
        if until is not None:
            stmt = stmt.where(LessonPost.scheduled_at < until)
        if statuses is not None:
            stmt = stmt.where(LessonPost.status.in_(list(statuses)))
        if newest_first:
            stmt = stmt.order_by(LessonPost.scheduled_at.desc(), LessonPost.id.desc())
        else:
            stmt = stmt.order_by(LessonPost.scheduled_at, LessonPost.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return await self._posts(stmt)

    async def recent(self, course: str, limit: int = 10) -> list[Post]:
        """The course's latest posts of any status, newest first."""
        return await self.matching(course, limit=limit, newest_first=True)

    async def latest(self, course: str, lesson: str | None = None) -> Post | None:
        """The course's most recently scheduled posted lesson (or posted ``lesson``)."""
        posted: tuple[PostStatus, ...] = ("posted",)
        found = await self.matching(
            course, lesson=lesson, statuses=posted, limit=1, newest_first=True
        )
        return found[0] if found else None

    async def due_between(
        self, start: dt.datetime, end: dt.datetime, *, course: str | None = None
    ) -> list[Post]:
        """Posted lessons whose due time is in ``[start, end)``, by due time."""
        stmt = select(LessonPost).where(
            LessonPost.status == "posted",
            LessonPost.due_at >= start,
            LessonPost.due_at < end,
        )
        if course is not None:
            stmt = stmt.where(LessonPost.course == course)
        return await self._posts(stmt.order_by(LessonPost.due_at, LessonPost.id))

    async def _posts(self, stmt: Select[LessonPost]) -> list[Post]:
        async with self._sessions() as session:
            return [from_row(Post, row) for row in await session.scalars(stmt)]

    # --- question threads ---------------------------------------------------------------------

    async def threads_of(self, post_id: int) -> list[Thread]:
        """The post's recorded question threads, by question."""
        stmt = (
            select(QuestionThread)
            .where(QuestionThread.post_id == post_id)
            .order_by(QuestionThread.question_index)
        )
        async with self._sessions() as session:
            return [from_row(Thread, row) for row in await session.scalars(stmt)]

    async def thread_info(self, thread_id: int) -> ThreadInfo | None:
        """The lesson and question of a thread, or None if it is not a lesson thread."""
        stmt = (
            select(QuestionThread, LessonPost)
            .join(LessonPost, QuestionThread.post_id == LessonPost.id)
            .where(QuestionThread.thread_id == thread_id)
        )
        async with self._sessions() as session:
            row = (await session.execute(stmt)).first()
            return _thread_info(row[0], row[1]) if row is not None else None

    async def open_threads(
        self,
        *,
        course: str | None = None,
        posted_since: dt.datetime | None = None,
        include_locked: bool = False,
    ) -> list[ThreadInfo]:
        """Every lesson thread (unlocked unless asked), for an in-memory thread-id map."""
        stmt = select(QuestionThread, LessonPost).join(
            LessonPost, QuestionThread.post_id == LessonPost.id
        )
        if course is not None:
            stmt = stmt.where(LessonPost.course == course)
        if posted_since is not None:
            stmt = stmt.where(LessonPost.scheduled_at >= posted_since)
        if not include_locked:
            stmt = stmt.where(QuestionThread.locked.is_(False))
        stmt = stmt.order_by(LessonPost.scheduled_at, QuestionThread.question_index)
        async with self._sessions() as session:
            return [_thread_info(t, p) for t, p in await session.execute(stmt)]

    async def threads_to_lock(self, now: dt.datetime | None = None) -> list[ThreadInfo]:
        """Unlocked threads of posted lessons whose due time has passed."""
        stmt = (
            select(QuestionThread, LessonPost)
            .join(LessonPost, QuestionThread.post_id == LessonPost.id)
            .where(
                QuestionThread.locked.is_(False),
                LessonPost.due_at <= (now or utcnow()),
            )
            .order_by(LessonPost.due_at, QuestionThread.question_index)
        )
        async with self._sessions() as session:
            return [_thread_info(t, p) for t, p in await session.execute(stmt)]

    async def mark_threads_locked(self, thread_ids: Iterable[int]) -> int:
        """Mark threads as locked; how many changed."""
        return await self._set_where_in(QuestionThread.thread_id, thread_ids,
                                        QuestionThread.locked.is_(False), locked=True)

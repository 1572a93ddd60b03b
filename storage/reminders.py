"""Reminders: which student was reminded for which post, and who turned reminders off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import LessonPost, ReminderOptOut, ReminderSent
from storage.records import utcnow


class ReminderStore(Store):
    """Reminder marks (one per student and post, so nobody is pinged twice) and opt-outs."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = (
        "reminders_sent.user_id", "reminder_opt_outs.user_id")

    async def record(
        self, post_id: int, user_ids: Iterable[int], *, now: dt.datetime | None = None
    ) -> list[int]:
        """Mark students as reminded for a post; the ids not reminded before (ping those)."""
        ids = sorted(set(user_ids))
        if not ids:
            return []
        at = now or utcnow()
        stmt = (
            self._insert(ReminderSent)
            .values([{"post_id": post_id, "user_id": u, "sent_at": at} for u in ids])
            .on_conflict_do_nothing(index_elements=["post_id", "user_id"])
            .returning(ReminderSent.user_id)
        )
        async with self._sessions.begin() as session:
            return sorted((await session.execute(stmt)).scalars())

    async def release(self, post_id: int, user_ids: Iterable[int]) -> int:
        """Unmark students whose reminder could not be sent, so a later one may go; how many."""
        ids = sorted(set(user_ids))
        if not ids:
            return 0
        stmt = (
            delete(ReminderSent)
            .where(ReminderSent.post_id == post_id, ReminderSent.user_id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt))

    async def set_opt_out(
        self, course: str, user_id: int, opted_out: bool, *, now: dt.datetime | None = None
    ) -> None:
        """Turn a student's reminders in a course off (``opted_out``) or back on."""
        async with self._sessions.begin() as session:
            if opted_out:
                await session.execute(
                    self._insert(ReminderOptOut)
                    .values(course=course, user_id=user_id, at=now or utcnow())
                    .on_conflict_do_nothing(index_elements=["course", "user_id"])
                )
            else:
                await session.execute(
                    delete(ReminderOptOut)
                    .where(ReminderOptOut.course == course, ReminderOptOut.user_id == user_id)
                    .execution_options(synchronize_session=False)
                )

    async def opted_out(self, course: str) -> set[int]:
        """Students of a course who turned reminders off."""
        stmt = select(ReminderOptOut.user_id).where(ReminderOptOut.course == course)
        async with self._sessions() as session:
            return set(await session.scalars(stmt))

    # --- a student's data -------------------------------------------------------------------

    @staticmethod
    def _sent_in(course: str) -> Select[int]:
        return select(LessonPost.id).where(LessonPost.course == course)

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """When the student was reminded for which post, and whether they turned reminders off."""
        sent = await session.execute(
            select(ReminderSent.post_id, ReminderSent.sent_at)
            .where(ReminderSent.user_id == user_id,
                   ReminderSent.post_id.in_(self._sent_in(course)))
            .order_by(ReminderSent.sent_at, ReminderSent.post_id))
        opted = await session.execute(
            select(ReminderOptOut.at)
            .where(ReminderOptOut.course == course, ReminderOptOut.user_id == user_id))
        return {
            "reminders_sent": [{"user_id": user_id, "post_id": p, "sent_at": at} for p, at in sent],
            "reminder_opt_outs": [{"user_id": user_id, "at": at} for (at,) in opted],
        }

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the student's reminder marks and reminder setting in a course."""
        sent = rowcount(await session.execute(
            delete(ReminderSent)
            .where(ReminderSent.user_id == user_id,
                   ReminderSent.post_id.in_(self._sent_in(course)))
            .execution_options(synchronize_session=False)))
        opted = rowcount(await session.execute(
            delete(ReminderOptOut)
            .where(ReminderOptOut.course == course, ReminderOptOut.user_id == user_id)
            .execution_options(synchronize_session=False)))
        return {"reminders_sent": sent, "reminder_opt_outs": opted}

    async def purge_older_than(self, session: AsyncSession, course: str,
                               cutoff: dt.datetime) -> int:
        """Delete the reminder marks of a course's posts scheduled before ``cutoff``."""
        old_posts = select(LessonPost.id).where(
            LessonPost.course == course, LessonPost.scheduled_at < cutoff)
        return rowcount(await session.execute(
            delete(ReminderSent)
            .where(ReminderSent.post_id.in_(old_posts))
            .execution_options(synchronize_session=False)))

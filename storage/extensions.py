"""Extensions: one student's own due time for one lesson, from ``/extend`` or the config.

A student's due time is their extension's when they have one, else the lesson post's. The
``late`` mark of their replies follows it: granting an extension re-marks their replies to
that lesson in the same transaction (grading reads that mark), and :func:`due_time` is the
SQL expression an edit is judged by (before or after its author's due time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, and_, case, delete, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import Extension, LessonPost, Reply
from storage.records import from_row, utcnow
from storage.types import UTCDateTime


@dataclass(frozen=True, slots=True)
class ExtensionRecord:
    """A granted extension."""

    course: str
    lesson: str
    user_id: int
    due_at: dt.datetime
    source: str
    granted_by: int | None
    granted_at: dt.datetime


def due_time(reply: Any = Reply) -> ColumnElement[dt.datetime]:
    """The due time of a reply's author for its lesson: their extension's, else the post's.

    Correlated to ``reply`` (the replies table or an alias of it).
    """
    extended = (select(Extension.due_at)
                .where(Extension.course == reply.course, Extension.lesson == reply.lesson,
                       Extension.user_id == reply.author_id)
                .scalar_subquery())
    posted = select(LessonPost.due_at).where(LessonPost.id == reply.post_id).scalar_subquery()
    return func.coalesce(extended, posted)


class ExtensionStore(Store):
    """Extensions per course; a student's extensions are their data."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("extensions.user_id",)

    async def grant(self, course: str, lesson: str, user_id: int, due_at: dt.datetime, *,
                    granted_by: int | None, now: dt.datetime | None = None) -> int:
        """Give a student their own due time for a lesson (replacing any before it).

        Their replies to the lesson are marked late or on time against it, in the same
        transaction; how many replies changed their mark.
        """
        values = {"due_at": due_at, "source": "command", "granted_by": granted_by,
                  "granted_at": now or utcnow()}
        stmt = self._insert(Extension).values(course=course, lesson=lesson, user_id=user_id,
                                              **values)
        stmt = stmt.on_conflict_do_update(index_elements=["course", "lesson", "user_id"],
                                          set_=values)
        async with self._sessions.begin() as session:
            await session.execute(stmt)
            return await self._remark(session, course, lesson, user_id, due_at)

    async def grant_remark(self, course: str, lesson: str, user_id: int) -> int:
        """Mark a student's replies to a lesson against their stored due time again."""
        async with self._sessions.begin() as session:
            due = await session.scalar(select(Extension.due_at).where(
                Extension.course == course, Extension.lesson == lesson,
                Extension.user_id == user_id))
            return await self._remark(session, course, lesson, user_id, due)

    async def sync_config(self, course: str,
                          extensions: Iterable[tuple[str, int, dt.datetime]]) -> int:
        """Make the config's extensions of a course (lesson, student, due) the stored ones.

        A teacher's ``/extend`` for the same student and lesson is kept over the config's.
        Config extensions no longer in the config are removed (the students' replies are
        then marked against the lesson's own due time again). How many replies changed mark.
        """
        wanted = {(lesson, user): due for lesson, user, due in extensions}
        changed = 0
        async with self._sessions.begin() as session:
            rows = (await session.execute(
                select(Extension.lesson, Extension.user_id, Extension.source, Extension.due_at)
                .where(Extension.course == course))).all()
            stored = {(r.lesson, r.user_id): (r.source, r.due_at) for r in rows}
            for (lesson, user), (source, _due) in stored.items():
                if source == "config" and (lesson, user) not in wanted:
                    await session.execute(delete(Extension).where(
                        Extension.course == course, Extension.lesson == lesson,
                        Extension.user_id == user))
                    changed += await self._remark(session, course, lesson, user, None)
            for (lesson, user), due in wanted.items():
                source, stored_due = stored.get((lesson, user), (None, None))
                if source == "command" or (source == "config" and stored_due == due):
                    continue
                values = {"due_at": due, "source": "config", "granted_by": None,
                          "granted_at": utcnow()}
                await session.execute(
                    self._insert(Extension)
                    .values(course=course, lesson=lesson, user_id=user, **values)
                    .on_conflict_do_update(index_elements=["course", "lesson", "user_id"],
                                           set_=values))
                changed += await self._remark(session, course, lesson, user, due)
        return changed

    async def of_course(self, course: str) -> list[ExtensionRecord]:
        """A course's extensions, by lesson then student."""
        stmt = (select(Extension).where(Extension.course == course)
                .order_by(Extension.lesson, Extension.user_id))
        async with self._sessions() as session:
            return [from_row(ExtensionRecord, row) for row in await session.scalars(stmt)]

    async def all(self) -> list[ExtensionRecord]:
        """Every extension (the reply listener's map of students' due times)."""
        async with self._sessions() as session:
            return [from_row(ExtensionRecord, row)
                    for row in await session.scalars(select(Extension))]

    @staticmethod
    async def _remark(session: AsyncSession, course: str, lesson: str, user_id: int,
                      due_at: dt.datetime | None) -> int:
        """Mark a student's replies to a lesson late or not against ``due_at`` (None: the
        post's own due time)."""
        late: ColumnElement[bool]
        if due_at is None:
            due = (select(LessonPost.due_at).where(LessonPost.id == Reply.post_id)
                   .scalar_subquery())
            late = case((and_(due.is_not(None), Reply.created_at > due), True), else_=False)
        else:
            late = Reply.created_at > literal(due_at, UTCDateTime())
        result = await session.execute(
            update(Reply)
            .where(Reply.course == course, Reply.lesson == lesson, Reply.author_id == user_id,
                   Reply.late != late)
            .values(late=late)
            .execution_options(synchronize_session=False))
        return rowcount(result)

    # --- a student's data -------------------------------------------------------------------

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """The student's extensions in a course."""
        stmt = (select(Extension)
                .where(Extension.course == course, Extension.user_id == user_id)
                .order_by(Extension.lesson))
        return {"extensions": [asdict(from_row(ExtensionRecord, row))
                               for row in await session.scalars(stmt)]}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the student's extensions in a course."""
        deleted = rowcount(await session.execute(
            delete(Extension)
            .where(Extension.course == course, Extension.user_id == user_id)
            .execution_options(synchronize_session=False)))
        return {"extensions": deleted}

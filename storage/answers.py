"""Answer-first lessons: each student's first answer to a question, posted by the bot.

A row is claimed before the answer is posted (so a double submit posts once), holds the text
until the bot has posted it (so a crash in between loses nothing: the bot posts it when it
starts), and then only the message's id. The answer itself is a reply like any other, in the
replies table, under the student's id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import Answer, Reply
from storage.records import from_row


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """A student's first answer to one question: pending until ``message_id`` is set."""

    id: int
    post_id: int
    question_index: int
    course: str
    lesson: str
    user_id: int
    submitted_at: dt.datetime
    text: str | None
    message_id: int | None


class AnswerStore(Store):
    """First answers of answer-first lessons; a student's answers are their data."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("answers.user_id",)

    async def claim(self, post_id: int, question_index: int, course: str, lesson: str,
                    user_id: int, text: str, at: dt.datetime) -> tuple[AnswerRecord, bool]:
        """Claim a student's first answer to a question; (the answer, whether it is this one).

        One claim per student and question: a second submit gets the first claim back
        (``False``). An answer whose message was deleted (the student withdrew it) may be
        claimed again.
        """
        key = (Answer.post_id == post_id, Answer.question_index == question_index,
               Answer.user_id == user_id)
        async with self._sessions.begin() as session:
            inserted = await session.execute(
                self._insert(Answer.__table__).values(
                    post_id=post_id, question_index=question_index, course=course,
                    lesson=lesson, user_id=user_id, submitted_at=at, text=text,
                    message_id=None).on_conflict_do_nothing())
            row = await session.scalar(select(Answer).where(*key))
            assert row is not None
            if rowcount(inserted) == 1:
                return from_row(AnswerRecord, row), True
            withdrawn = row.message_id is not None and await session.scalar(
                select(Reply.deleted_at.is_not(None)).where(Reply.message_id == row.message_id))
            if not withdrawn:
                return from_row(AnswerRecord, row), False
            again = rowcount(await session.execute(
                update(Answer).where(Answer.id == row.id, Answer.message_id == row.message_id)
                .values(text=text, submitted_at=at, message_id=None)
                .execution_options(synchronize_session=False)))
            fresh = await session.scalar(select(Answer).where(Answer.id == row.id))
            assert fresh is not None
            await session.refresh(fresh)
            return from_row(AnswerRecord, fresh), again == 1

    async def posted(self, answer_id: int, message_id: int) -> bool:
        """The answer is in its thread as ``message_id``: keep that, drop the text."""
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(
                update(Answer).where(Answer.id == answer_id, Answer.message_id.is_(None))
                .values(message_id=message_id, text=None)
                .execution_options(synchronize_session=False))) == 1

    async def release(self, answer_id: int) -> None:
        """Give up a claim whose answer could not be posted (the student may try again)."""
        async with self._sessions.begin() as session:
            await session.execute(delete(Answer).where(Answer.id == answer_id,
                                                       Answer.message_id.is_(None)))

    async def get(self, answer_id: int) -> AnswerRecord | None:
        """One answer, by its id."""
        async with self._sessions() as session:
            row = await session.get(Answer, answer_id)
            return from_row(AnswerRecord, row) if row is not None else None

    async def of_student(self, post_id: int, question_index: int,
                         user_id: int) -> AnswerRecord | None:
        """A student's answer to a question, if they gave one."""
        async with self._sessions() as session:
            row = await session.scalar(select(Answer).where(
                Answer.post_id == post_id, Answer.question_index == question_index,
                Answer.user_id == user_id))
            return from_row(AnswerRecord, row) if row is not None else None

    async def answered(self, post_id: int) -> set[tuple[int, int]]:
        """Who answered which question of a post: (question index, user id) pairs."""
        async with self._sessions() as session:
            rows = await session.execute(select(Answer.question_index, Answer.user_id).where(
                Answer.post_id == post_id, Answer.message_id.is_not(None)))
            return {(q, user) for q, user in rows}

    async def pending(self) -> list[AnswerRecord]:
        """Answers claimed but not posted yet (the bot stopped in between), oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(select(Answer).where(Answer.message_id.is_(None))
                                         .order_by(Answer.id))
            return [from_row(AnswerRecord, row) for row in rows]

    # --- a student's data -------------------------------------------------------------------

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """The student's first answers in a course."""
        stmt = select(Answer).where(Answer.course == course, Answer.user_id == user_id)
        return {"answers": [asdict(from_row(AnswerRecord, row))
                            for row in await session.scalars(stmt)]}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the student's first answers in a course (their replies go with the replies)."""
        deleted = rowcount(await session.execute(
            delete(Answer).where(Answer.course == course, Answer.user_id == user_id)
            .execution_options(synchronize_session=False)))
        return {"answers": deleted}

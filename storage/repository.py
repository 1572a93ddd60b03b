"""The database, as one store per aggregate behind this small façade.

Each store's public methods are one transaction each; every write that can race with
another process (claims, replies, cursors, reminders) is a single ``INSERT ... ON CONFLICT``
or a guarded ``UPDATE``, so that SQLite and PostgreSQL both let exactly one writer win
without locks held across awaits.

The stores that hold a student's data (:attr:`Repository.student_stores`) each export and
forget that student; :meth:`Repository.export_student` and :meth:`Repository.forget_student`
ask all of them, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.answers import AnswerStore
from storage.audit import AuditStore
from storage.extensions import ExtensionStore
from storage.posts import PostStore
from storage.reminders import ReminderStore
from storage.replies import ReplyStore
from storage.reports import ReportStore
from storage.roster import RosterStore
from storage.state import StateStore
from storage.work import WorkStore

#: A student's data from every store: table name -> rows (column -> value).
StudentData = dict[str, list[dict[str, Any]]]


class HoldsStudentData(Protocol):
    """A store with columns holding a user id: it can export and forget that user."""

    user_columns: ClassVar[tuple[str, ...]]

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> StudentData: ...

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]: ...


class Repository:
    """The database's stores: posts, replies, reports, reminders, audit, state, extensions,
    the kept grading counts, the roster and answer-first answers."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.posts = PostStore(sessions)
        self.replies = ReplyStore(sessions)
        self.reports = ReportStore(sessions)
        self.reminders = ReminderStore(sessions)
        self.audit = AuditStore(sessions)
        self.state = StateStore(sessions)
        self.extensions = ExtensionStore(sessions)
        self.work = WorkStore()
        self.roster = RosterStore(sessions)
        self.answers = AnswerStore(sessions)

    @property
    def student_stores(self) -> tuple[HoldsStudentData, ...]:
        """Every store that holds a student's data."""
        return (self.replies, self.reminders, self.audit, self.extensions, self.work,
                self.roster, self.answers)

    async def export_student(self, course: str, user_id: int) -> StudentData:
        """Everything recorded about one student in a course, table by table."""
        data: StudentData = {}
        async with self.sessions() as session:
            for store in self.student_stores:
                data.update(await store.export_student(session, course, user_id))
        return data

    async def forget_student(self, course: str, user_id: int) -> dict[str, int]:
        """Erase one student's records in a course, in one transaction; rows gone per table."""
        gone: dict[str, int] = {}
        async with self.sessions.begin() as session:
            for store in self.student_stores:
                gone.update(await store.forget_student(session, course, user_id))
        return gone

    async def purge_older_than(self, course: str, cutoff: dt.datetime) -> int:
        """Delete a course's replies (and reminder marks) older than ``cutoff``; replies gone."""
        async with self.sessions.begin() as session:
            deleted = await self.replies.purge_older_than(session, course, cutoff)
            await self.reminders.purge_older_than(session, course, cutoff)
            # A student who left the roster longer ago than the retention is purged too.
            await self.roster.purge_left_before(session, course, cutoff)
        return deleted

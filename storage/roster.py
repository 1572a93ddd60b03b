"""A course's roster: the students the school's LMS lists, and the Discord member of each.

School data: stored only here, shown only to teachers, exported and forgotten with the
student (once they are linked to a Discord member), and purged with the course's records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import RosterEntry
from storage.records import from_row, utcnow


@dataclass(frozen=True, slots=True)
class RosterRecord:
    """One student of a roster, as stored."""

    course: str
    key: str
    name: str
    lms_id: str
    sis_id: str
    login: str
    email: str
    section: str
    user_id: int | None
    imported_at: dt.datetime
    left_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import changed: students new, changed, back, gone (kept, marked), unchanged."""

    added: int = 0
    updated: int = 0
    returned: int = 0
    left: int = 0
    unchanged: int = 0


ClaimOutcome = Literal["linked", "taken", "already", "gone"]

IMPORTED_FIELDS = ("name", "lms_id", "sis_id", "login", "email", "section")


class RosterStore(Store):
    """Imports a course's roster, and links its students to Discord members."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("roster.user_id",)

    async def import_students(self, course: str, students: Iterable[Any], *,
                              now: dt.datetime | None = None) -> ImportOutcome:
        """Make the roster of a course the given students (objects with ``key`` and the
        imported fields), in one transaction.

        A student already on it is updated (their link kept); one not in the file any more is
        kept and marked as left; one who had left and is back is marked present again.
        """
        at = now or utcnow()
        wanted = {s.key: {f: getattr(s, f) for f in IMPORTED_FIELDS} for s in students}
        counts = dict(added=0, updated=0, returned=0, left=0, unchanged=0)
        async with self._sessions.begin() as session:
            stored = {row.key: row for row in await session.scalars(
                select(RosterEntry).where(RosterEntry.course == course))}
            for key, values in wanted.items():
                row = stored.get(key)
                if row is None:
                    session.add(RosterEntry(course=course, key=key, imported_at=at,
                                            left_at=None, user_id=None, **values))
                    counts["added"] += 1
                    continue
                changed = any(getattr(row, f) != v for f, v in values.items())
                if row.left_at is not None:
                    counts["returned"] += 1
                elif changed:
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
                for field, value in values.items():
                    setattr(row, field, value)
                row.left_at = None
                row.imported_at = at
            for key, row in stored.items():
                if key not in wanted and row.left_at is None:
                    row.left_at = at
                    counts["left"] += 1
        return ImportOutcome(**counts)

    async def of_course(self, course: str, *, present_only: bool = False) -> list[RosterRecord]:
        """A course's roster, by name (students who left last unless left out)."""
        stmt = select(RosterEntry).where(RosterEntry.course == course)
        if present_only:
            stmt = stmt.where(RosterEntry.left_at.is_(None))
        async with self._sessions() as session:
            rows = [from_row(RosterRecord, row) for row in await session.scalars(stmt)]
        return sorted(rows, key=lambda r: (r.left_at is not None, r.name.casefold(), r.key))

    async def of_member(self, course: str, user_id: int) -> RosterRecord | None:
        """The roster student a member is linked to in a course, if any."""
        stmt = select(RosterEntry).where(RosterEntry.course == course,
                                         RosterEntry.user_id == user_id)
        async with self._sessions() as session:
            row = await session.scalar(stmt)
        return from_row(RosterRecord, row) if row is not None else None

    async def claim(self, course: str, key: str, user_id: int) -> ClaimOutcome:
        """A member links themself to a roster student, if nobody else has.

        ``linked`` (also when it already was theirs), ``taken`` (another member has it: the
        teacher decides), ``already`` (this member is linked to another student: a student
        links once, a teacher changes it), ``gone`` (no such student present). One
        conditional update: two members claiming one student at once cannot both win.
        """
        async with self._sessions.begin() as session:
            row = await session.scalar(select(RosterEntry).where(
                RosterEntry.course == course, RosterEntry.key == key))
            if row is None or row.left_at is not None:
                return "gone"
            if row.user_id == user_id:
                return "linked"
            mine = await session.scalar(select(RosterEntry.key).where(
                RosterEntry.course == course, RosterEntry.user_id == user_id))
            if mine is not None:
                return "already"
            try:
                async with session.begin_nested():
                    won = rowcount(await session.execute(
                        update(RosterEntry)
                        .where(RosterEntry.course == course, RosterEntry.key == key,
                               RosterEntry.user_id.is_(None))
                        .values(user_id=user_id).execution_options(synchronize_session=False)))
            except IntegrityError:  # the same member, linked elsewhere a moment ago
                return "already"
            return "linked" if won == 1 else "taken"

    async def unlink_member(self, course: str, user_id: int) -> str | None:
        """Unlink a member from the roster student they are linked to; that student's key."""
        async with self._sessions.begin() as session:
            key = await session.scalar(select(RosterEntry.key).where(
                RosterEntry.course == course, RosterEntry.user_id == user_id))
            if key is not None:
                await session.execute(
                    update(RosterEntry).where(RosterEntry.course == course,
                                              RosterEntry.key == key)
                    .values(user_id=None).execution_options(synchronize_session=False))
        return key

    async def link(self, course: str, key: str, user_id: int | None) -> bool:
        """Link a roster student to a Discord member (None: unlink); False if not on it.

        A member is linked to one student of a course at most: linking them again moves the
        link.
        """
        async with self._sessions.begin() as session:
            if user_id is not None:
                await session.execute(
                    update(RosterEntry)
                    .where(RosterEntry.course == course, RosterEntry.user_id == user_id)
                    .values(user_id=None).execution_options(synchronize_session=False))
            return rowcount(await session.execute(
                update(RosterEntry)
                .where(RosterEntry.course == course, RosterEntry.key == key)
                .values(user_id=user_id).execution_options(synchronize_session=False))) == 1

    # --- a student's data -------------------------------------------------------------------

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """The roster row linked to the student in a course."""
        stmt = select(RosterEntry).where(RosterEntry.course == course,
                                         RosterEntry.user_id == user_id)
        return {"roster": [asdict(from_row(RosterRecord, row))
                           for row in await session.scalars(stmt)]}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the roster row linked to the student in a course."""
        deleted = rowcount(await session.execute(
            delete(RosterEntry)
            .where(RosterEntry.course == course, RosterEntry.user_id == user_id)
            .execution_options(synchronize_session=False)))
        return {"roster": deleted}

    async def purge_left_before(self, session: AsyncSession, course: str,
                                cutoff: dt.datetime) -> int:
        """Delete the students who left a course's roster before ``cutoff``; how many."""
        return rowcount(await session.execute(
            delete(RosterEntry)
            .where(RosterEntry.course == course, RosterEntry.left_at < cutoff)
            .execution_options(synchronize_session=False)))

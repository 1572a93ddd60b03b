"""The audit log: what teachers (and the bot itself) did, per course, kept for accountability."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any, ClassVar

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.models import AuditEntry
from storage.records import AuditRecord, from_row, utcnow


class AuditStore(Store):
    """Appends entries; a student's own actions (reminders off, say) are their data too."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("audit_log.actor_id",)

    async def add(
        self,
        course: str,
        actor_id: int | None,
        action: str,
        detail: str = "",
        *,
        at: dt.datetime | None = None,
    ) -> None:
        """Append a teacher action to the audit log (``actor_id`` None: the bot itself)."""
        async with self._sessions.begin() as session:
            session.add(
                AuditEntry(
                    course=course,
                    actor_id=actor_id,
                    action=action,
                    detail=detail,
                    at=at or utcnow(),
                )
            )

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """The entries of the student's own actions in a course, oldest first."""
        stmt = (select(AuditEntry)
                .where(AuditEntry.course == course, AuditEntry.actor_id == user_id)
                .order_by(AuditEntry.at, AuditEntry.id))
        rows = [asdict(from_row(AuditRecord, row)) for row in await session.scalars(stmt)]
        return {"audit_log": rows}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the entries of the student's own actions in a course."""
        deleted = rowcount(await session.execute(
            delete(AuditEntry)
            .where(AuditEntry.course == course, AuditEntry.actor_id == user_id)
            .execution_options(synchronize_session=False)))
        return {"audit_log": deleted}

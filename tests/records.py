"""Reading the database in tests where the bot itself never needs to: plain queries, no API.

What a test checks after the fact (the audit log, who was reminded, a thread's cursor) is
read here with SQL, so that the stores keep only what the bot uses.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from storage.models import AuditEntry, ReminderSent
from storage.records import AuditRecord, Post, ReplyRecord, from_row
from storage.repository import Repository


async def audit_log(repo: Repository, course: str, *, limit: int = 50,
                    since: dt.datetime | None = None,
                    action: str | None = None) -> list[AuditRecord]:
    """A course's audit log, newest first."""
    stmt = select(AuditEntry).where(AuditEntry.course == course)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    async with repo.sessions() as session:
        return [from_row(AuditRecord, row) for row in await session.scalars(stmt)]


async def reminded(repo: Repository, post_id: int) -> set[int]:
    """Students already reminded for a post."""
    stmt = select(ReminderSent.user_id).where(ReminderSent.post_id == post_id)
    async with repo.sessions() as session:
        return set(await session.scalars(stmt))


async def cursor(repo: Repository, thread_id: int) -> int | None:
    """The message id backfill has read a thread up to, if any."""
    return (await repo.replies.cursors([thread_id])).get(thread_id)


async def advance_cursor(repo: Repository, thread_id: int, message_id: int) -> int | None:
    """Move a thread's cursor as backfill does (with no reply to record); the cursor now."""
    await repo.replies.record([], cursors={thread_id: message_id})
    return await cursor(repo, thread_id)


async def stale_claims(repo: Repository, stale_after: dt.timedelta, *,
                       now: dt.datetime) -> list[Post]:
    """Claims never completed and older than ``stale_after`` (the scheduler's rule)."""
    return [p for p in await repo.posts.matching(statuses=("claimed",))
            if p.claimed_at < now - stale_after]


async def replies_of(repo: Repository, course: str, user_id: int) -> list[ReplyRecord]:
    """Everything recorded about one student's replies, deleted ones included."""
    return await repo.replies.matching(course, author_id=user_id, include_deleted=True)

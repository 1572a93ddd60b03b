"""Student replies (one row per message, kept when deleted) and backfill's thread cursors.

Recording a reply twice changes nothing: a message id already recorded is left exactly as it
is. An edit never lets an older version win, and a deletion marks the reply, never erases it
(erasing is for forgetting a student and for retention).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any, ClassVar

from sqlalchemy import and_, case, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store, rowcount
from storage.extensions import due_time
from storage.models import Reply, ThreadCursor
from storage.records import NewReply, ReplyRecord, from_row
from storage.types import UTCDateTime
from storage.work import drop_orphans, touch, touch_course, touch_messages

AUTHOR_NAME_MAX = 100
REPLY_COLUMNS = [Reply.__table__.c[f.name] for f in fields(ReplyRecord)]


class ReplyStore(Store):
    """Replies, their edits and deletions, and how far backfill has read each thread."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("replies.author_id", "replies.reply_to_author_id")

    async def record(
        self, replies: Sequence[NewReply], *, cursors: Mapping[int, int] | None = None
    ) -> int:
        """Record replies in one transaction; how many were new.

        A message id already recorded is left exactly as it is, so recording the same
        reply twice (a duplicated event, a backfill overlap) changes nothing. ``cursors``
        (thread id -> message id) are advanced in the same transaction: backfill uses it;
        the live listener must not, since it may have missed earlier messages.
        """
        rows = [reply_values(reply) for reply in replies]
        new = 0
        async with self._sessions.begin() as session:
            if rows and self._dialect == "sqlite":
                # Multi-row INSERTs of power-of-two pages, counted by rowcount (see
                # sqlite_pages). OR IGNORE, not ON CONFLICT DO NOTHING: SQLAlchemy sends
                # a parameter list as one multi-row statement only without an ON CONFLICT
                # clause (storage.engine turns that on); replies have no other constraint
                # that OR IGNORE could swallow but the primary key (foreign keys still fail).
                stmt = self._insert(Reply.__table__).prefix_with("OR IGNORE")
                for page in sqlite_pages(rows):
                    new += rowcount(await session.execute(stmt, page))
            elif rows:
                # One statement with a parameter list: SQLAlchemy sends it as multi-row
                # INSERTs in batches, and the compiled form is cached across calls.
                returning = (
                    self._insert(Reply.__table__)
                    .on_conflict_do_nothing(index_elements=["message_id"])
                    .returning(Reply.__table__.c.message_id)
                )
                new = len((await session.execute(returning, rows)).all())
            await touch(session, [(r["course"], r["post_id"], r["author_id"]) for r in rows])
            if cursors:
                await self._advance_cursors(session, cursors)
        return new

    async def mark_edited(
        self,
        message_id: int,
        at: dt.datetime,
        word_count: int,
        char_count: int,
        text: str | None = None,
    ) -> bool:
        """Update a reply's counts after an edit; False if unknown, deleted, or newer edit kept.

        ``text`` replaces the stored text only when given (courses that store text).
        """
        values: dict[str, Any] = {
            "edited_at": at,
            "word_count": word_count,
            "char_count": char_count,
        }
        if text is not None:
            values["text"] = text
        # An edit after the author's due time keeps the words the reply had then, for grading
        # (the first such edit saves them); an edit before it (an extension came) clears that.
        due = due_time()
        after_due = and_(due.is_not(None), literal(at, UTCDateTime()) > due)
        values["due_word_count"] = case(
            (after_due, func.coalesce(Reply.due_word_count, Reply.word_count)), else_=None)
        stmt = (
            update(Reply)
            .where(
                Reply.message_id == message_id,
                Reply.deleted_at.is_(None),
                # Edit events can arrive out of order: never let an older one win.
                or_(Reply.edited_at.is_(None), Reply.edited_at <= at),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            changed = rowcount(await session.execute(stmt)) == 1
            if changed:
                await touch_messages(session, [message_id])
            return changed

    async def mark_deleted(self, message_ids: Iterable[int], at: dt.datetime) -> int:
        """Mark replies deleted (kept, not erased); how many changed (not known or deleted: 0)."""
        wanted = sorted(set(message_ids))
        if not wanted:
            return 0
        stmt = (update(Reply)
                .where(Reply.message_id.in_(wanted), Reply.deleted_at.is_(None))
                .values(deleted_at=at)
                .execution_options(synchronize_session=False))
        async with self._sessions.begin() as session:
            changed = rowcount(await session.execute(stmt))
            if changed:
                await touch_messages(session, wanted)
            return changed

    async def get(self, message_id: int) -> ReplyRecord | None:
        """One recorded reply, deleted or not."""
        async with self._sessions() as session:
            row = await session.get(Reply, message_id)
            return from_row(ReplyRecord, row) if row is not None else None

    async def matching(
        self,
        course: str,
        *,
        lesson: str | None = None,
        author_id: int | None = None,
        include_deleted: bool = False,
    ) -> list[ReplyRecord]:
        """A course's replies (export rows), oldest first."""
        stmt = select(*REPLY_COLUMNS).where(Reply.course == course)
        if lesson is not None:
            stmt = stmt.where(Reply.lesson == lesson)
        if author_id is not None:
            stmt = stmt.where(Reply.author_id == author_id)
        if not include_deleted:
            stmt = stmt.where(Reply.deleted_at.is_(None))
        stmt = stmt.order_by(Reply.created_at, Reply.message_id)
        async with self._sessions() as session:
            # Plain columns, not ORM objects: an export of a whole term stays fast.
            return [ReplyRecord(*row) for row in await session.execute(stmt)]

    async def standing_ids(self, thread_id: int, *, below: int) -> set[int]:
        """Message ids of a thread's recorded replies not marked deleted, below ``below``.

        What catch-up compares a thread's history with: a reply recorded here but no longer
        in the history was deleted while the bot was not listening.
        """
        stmt = select(Reply.message_id).where(
            Reply.thread_id == thread_id, Reply.deleted_at.is_(None), Reply.message_id < below)
        async with self._sessions() as session:
            return set((await session.scalars(stmt)).all())

    # --- cursors ------------------------------------------------------------------------

    async def cursors(self, thread_ids: Iterable[int] | None = None) -> dict[int, int]:
        """Cursors of the given threads (or all), thread id -> message id."""
        stmt = select(ThreadCursor.thread_id, ThreadCursor.last_message_id)
        if thread_ids is not None:
            stmt = stmt.where(ThreadCursor.thread_id.in_(list(thread_ids)))
        async with self._sessions() as session:
            return {t: m for t, m in await session.execute(stmt)}

    async def _advance_cursors(self, session: AsyncSession, cursors: Mapping[int, int]) -> None:
        """Upsert cursors, keeping whichever message id is newer."""
        stmt = self._insert(ThreadCursor)
        stmt = stmt.on_conflict_do_update(
            index_elements=["thread_id"],
            set_={"last_message_id": stmt.excluded.last_message_id},
            where=ThreadCursor.last_message_id < stmt.excluded.last_message_id,
        )
        params = [{"thread_id": t, "last_message_id": m} for t, m in sorted(cursors.items())]
        await session.execute(stmt, params)

    # --- a student's data -------------------------------------------------------------------

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every reply of the student in a course, deleted ones included."""
        stmt = (select(*REPLY_COLUMNS)
                .where(Reply.course == course, Reply.author_id == user_id)
                .order_by(Reply.created_at, Reply.message_id))
        rows = [asdict(ReplyRecord(*row)) for row in await session.execute(stmt)]
        return {"replies": rows}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the student's replies in a course; how many.

        Other students' replies to them keep counting as peer replies, but no longer say to
        whom (the id becomes 0).
        """
        deleted = rowcount(await session.execute(
            delete(Reply)
            .where(Reply.course == course, Reply.author_id == user_id)
            .execution_options(synchronize_session=False)))
        await session.execute(
            update(Reply)
            .where(Reply.course == course, Reply.reply_to_author_id == user_id)
            .values(reply_to_author_id=0)
            .execution_options(synchronize_session=False))
        return {"replies": deleted}

    async def purge_older_than(self, session: AsyncSession, course: str,
                               cutoff: dt.datetime) -> int:
        """Delete a course's replies made before ``cutoff``; how many."""
        deleted = rowcount(await session.execute(
            delete(Reply)
            .where(Reply.course == course, Reply.created_at < cutoff)
            .execution_options(synchronize_session=False)))
        if deleted:
            await touch_course(session, course)
            await drop_orphans(session, course)  # derived from the replies gone: gone too
        return deleted


_NEW_REPLY_FIELDS = tuple(f.name for f in fields(NewReply))

# Rows per multi-row INSERT on SQLite: below SQLAlchemy's insertmanyvalues page (1,000),
# so that each execute is one statement and its rowcount covers the whole page.
SQLITE_PAGE = 512


def sqlite_pages(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Rows in pages of a power-of-two size (the last one padded with its last row).

    One statement a page, not one a row (executemany, or RETURNING's row-by-row fetch):
    aiosqlite's thread gives up the GIL at every SQLite step, and while the event loop is
    busy it may wait tens of milliseconds to get it back each time. And few distinct
    statements: SQLite keeps each one it prepared (up to 128 a connection), a prepared
    500-row INSERT takes about a MiB, and a statement for every batch size grew the bot by
    over 100 MiB. Padded pages need at most ten; the copies are ignored (OR IGNORE) and
    not counted (rowcount counts rows inserted).
    """
    for start in range(0, len(rows), SQLITE_PAGE):
        page = rows[start : start + SQLITE_PAGE]
        size = 1 << (len(page) - 1).bit_length()
        yield page + [page[-1]] * (size - len(page))


def reply_values(reply: NewReply) -> dict[str, Any]:
    """Column values of a new reply (display names cut to the column's size)."""
    # A shallow copy: dataclasses.asdict deep-copies every value, which cost more than the
    # INSERT itself on the reply hot path.
    values = {name: getattr(reply, name) for name in _NEW_REPLY_FIELDS}
    values["author_name"] = reply.author_name[:AUTHOR_NAME_MAX]
    values["deleted_at"] = None
    values["due_word_count"] = None
    return values

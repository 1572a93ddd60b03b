"""The queries the bot uses: one transaction per operation, plain frozen dataclasses out.

Every write that can race with another process (claims, replies, cursors, reminders) is a
single ``INSERT ... ON CONFLICT`` or a guarded ``UPDATE``, so that SQLite and PostgreSQL both
let exactly one writer win without locks held across awaits.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, cast, get_args

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.models import (
    AuditEntry,
    BotState,
    LessonPost,
    QuestionThread,
    ReminderOptOut,
    ReminderSent,
    Reply,
    ThreadCursor,
)

PostStatus = Literal["claimed", "posted", "failed", "skipped"]
AUTHOR_NAME_MAX = 100


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


# --- returned records -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """One lesson occurrence and what happened to it."""

    id: int
    course: str
    lesson: str
    scheduled_at: dt.datetime
    due_at: dt.datetime | None
    status: PostStatus
    reason: str | None
    claimed_by: str
    claimed_at: dt.datetime
    attempts: int
    channel_id: int | None
    message_id: int | None
    posted_at: dt.datetime | None
    late: bool


@dataclass(frozen=True, slots=True)
class Thread:
    """A question thread as recorded for its post."""

    post_id: int
    question_index: int
    thread_id: int
    starter_message_id: int | None
    created_at: dt.datetime
    locked: bool


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """What the reply listener needs to know about a lesson thread, keyed by thread id."""

    thread_id: int
    post_id: int
    question_index: int
    course: str
    lesson: str
    scheduled_at: dt.datetime
    due_at: dt.datetime | None
    channel_id: int | None
    locked: bool


@dataclass(frozen=True, slots=True)
class NewReply:
    """A reply to record; ``text`` only when the course stores reply text."""

    message_id: int
    thread_id: int
    post_id: int
    question_index: int
    course: str
    lesson: str
    guild_id: int
    author_id: int
    author_name: str
    created_at: dt.datetime
    word_count: int
    char_count: int
    reply_to_message_id: int | None = None
    reply_to_author_id: int | None = None
    late: bool = False
    text: str | None = None
    edited_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """A recorded reply, deleted or not."""

    message_id: int
    thread_id: int
    post_id: int
    question_index: int
    course: str
    lesson: str
    guild_id: int
    author_id: int
    author_name: str
    created_at: dt.datetime
    edited_at: dt.datetime | None
    deleted_at: dt.datetime | None
    word_count: int
    char_count: int
    reply_to_message_id: int | None
    reply_to_author_id: int | None
    late: bool
    text: str | None


@dataclass(frozen=True, slots=True)
class StudentSummary:
    """One student's participation over the replies asked for (deleted replies excluded).

    What a participation report and the gradebook show: ``author_name`` is the name on the
    student's latest reply; ``questions_answered`` counts distinct question threads;
    ``peer_replies`` counts replies to another student, ``substantive_peer_replies`` those of
    them that are also substantive. ``before`` holds the counts before each cut-off asked for
    (checkpoints), in the order asked.
    """

    author_id: int
    author_name: str
    replies: int
    substantive_replies: int
    words: int
    questions_answered: int
    peer_replies: int
    late_replies: int
    first_reply_at: dt.datetime
    substantive_peer_replies: int = 0
    before: tuple[CutoffCounts, ...] = ()


@dataclass(frozen=True, slots=True)
class CutoffCounts:
    """A student's substantive replies, and substantive peer replies, made before ``cutoff``.

    What a checkpoint needs; :meth:`Repository.summary` returns one per ``cutoffs`` entry in
    :attr:`StudentSummary.before`, counted in the same pass as the totals.
    """

    cutoff: dt.datetime
    substantive_replies: int
    substantive_peer_replies: int


@dataclass(frozen=True, slots=True)
class LessonTotal:
    """Replies to one lesson of a course, over all its posts (deleted replies excluded)."""

    lesson: str
    first_scheduled_at: dt.datetime
    replies: int
    students: int
    words: int


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One teacher action from the audit log."""

    id: int
    course: str
    actor_id: int | None
    action: str
    detail: str
    at: dt.datetime


def _post(row: LessonPost) -> Post:
    return Post(
        id=row.id,
        course=row.course,
        lesson=row.lesson,
        scheduled_at=row.scheduled_at,
        due_at=row.due_at,
        status=cast(PostStatus, row.status),
        reason=row.reason,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        attempts=row.attempts,
        channel_id=row.channel_id,
        message_id=row.message_id,
        posted_at=row.posted_at,
        late=bool(row.late),
    )


def _thread(row: QuestionThread) -> Thread:
    return Thread(
        post_id=row.post_id,
        question_index=row.question_index,
        thread_id=row.thread_id,
        starter_message_id=row.starter_message_id,
        created_at=row.created_at,
        locked=bool(row.locked),
    )


def _thread_info(thread: QuestionThread, post: LessonPost) -> ThreadInfo:
    return ThreadInfo(
        thread_id=thread.thread_id,
        post_id=post.id,
        question_index=thread.question_index,
        course=post.course,
        lesson=post.lesson,
        scheduled_at=post.scheduled_at,
        due_at=post.due_at,
        channel_id=post.channel_id,
        locked=bool(thread.locked),
    )


def _reply(row: Reply) -> ReplyRecord:
    return ReplyRecord(
        message_id=row.message_id,
        thread_id=row.thread_id,
        post_id=row.post_id,
        question_index=row.question_index,
        course=row.course,
        lesson=row.lesson,
        guild_id=row.guild_id,
        author_id=row.author_id,
        author_name=row.author_name,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted_at=row.deleted_at,
        word_count=row.word_count,
        char_count=row.char_count,
        reply_to_message_id=row.reply_to_message_id,
        reply_to_author_id=row.reply_to_author_id,
        late=bool(row.late),
        text=row.text,
    )


REPLY_COLUMNS = [Reply.__table__.c[f.name] for f in fields(ReplyRecord)]
REPLIES = Reply.__table__


@functools.cache
def _summary_statement(
    filters: frozenset[str], seek_edges: bool, cutoffs: int
) -> Select[*tuple[Any, ...]]:
    """The summary query for one set of filters, built once; values are bound at execution.

    ``filters`` names the bound parameters: always ``course`` and ``min_words``; ``lesson``,
    ``post_id``, ``author_id`` and ``until`` when the summary is narrowed by them, and
    ``cutoff_0`` ... for ``cutoffs`` cut-off times. With ``seek_edges`` (a whole course on
    SQLite), each student's first and latest reply are found by a seek. Columns come in the
    order of :class:`StudentSummary`'s fields, then two per cut-off.
    """
    r = REPLIES.c
    conditions: list[ColumnElement[bool]] = [
        r.course == bindparam("course"),
        r.deleted_at.is_(None),
    ]
    if "lesson" in filters:
        conditions.append(r.lesson == bindparam("lesson"))
    if "post_id" in filters:
        conditions.append(r.post_id == bindparam("post_id"))
    if "author_id" in filters:
        conditions.append(r.author_id == bindparam("author_id"))
    if "until" in filters:
        conditions.append(r.created_at < bindparam("until"))
    # A reply to nobody has reply_to_author_id NULL, and NULL <> x is not true: not a peer.
    peer = r.reply_to_author_id != r.author_id
    substantive = r.word_count >= bindparam("min_words")
    # Only what a report shows: each further number costs 4-9 ms over a 120k-reply course.
    counts: list[Any] = [
        r.author_id.label("author_id"),
        func.count().label("replies"),
        func.count().filter(substantive).label("substantive"),
        func.sum(r.word_count).label("words"),
        func.count(r.thread_id.distinct()).label("questions"),
        func.count().filter(peer).label("peer"),
        func.count().filter(r.late).label("late"),
        func.count().filter(and_(peer, substantive)).label("substantive_peer"),
    ]
    for i in range(cutoffs):
        made_before = r.created_at < bindparam(f"cutoff_{i}")
        counts += [
            func.count().filter(and_(substantive, made_before)).label(f"substantive_{i}"),
            func.count().filter(and_(peer, substantive, made_before)).label(f"peer_{i}"),
        ]
    # The first reply's time, and the latest reply (Discord ids grow with time: the largest),
    # which gives the display name: from the aggregate, or by seeks.
    if not seek_edges:
        counts += [
            func.min(r.created_at).label("first_at"),
            func.max(r.message_id).label("last_id"),
        ]
    totals = select(*counts).where(*conditions).group_by(r.author_id).subquery("totals")
    if seek_edges:
        totals = select(
            totals,
            _edge_reply(r.created_at, totals.c.author_id, last=False).label("first_at"),
            _edge_reply(r.message_id, totals.c.author_id, last=True).label("last_id"),
        ).subquery("totals_and_edges")
    t = totals.c
    last = REPLIES.alias("last_reply")
    # The dataclass's fields in order, as Core columns (not ORM attributes): rows come back
    # as plain tuples, without the ORM's per-row work.
    fields_in_order = [
        t.author_id,
        last.c.author_name,
        t.replies,
        t.substantive,
        t.words,
        t.questions,
        t.peer,
        t.late,
        t.first_at,
        t.substantive_peer,
    ]
    for i in range(cutoffs):
        fields_in_order += [t[f"substantive_{i}"], t[f"peer_{i}"]]
    return (
        select(*fields_in_order)
        .join_from(totals, last, last.c.message_id == t.last_id)
        .order_by(t.author_id)
    )


def _summaries(
    rows: Iterable[Sequence[Any]], cutoffs: Sequence[dt.datetime]
) -> list[StudentSummary]:
    """Summary rows as :class:`StudentSummary`; their last columns are the cut-off counts."""
    if not cutoffs:
        return [StudentSummary(*row) for row in rows]
    width = len(fields(StudentSummary)) - 1  # every field but ``before``
    return [
        replace(
            StudentSummary(*row[:width]),
            before=tuple(
                CutoffCounts(cutoff, row[width + 2 * i], row[width + 2 * i + 1])
                for i, cutoff in enumerate(cutoffs)
            ),
        )
        for row in rows
    ]


def _edge_reply(
    column: ColumnElement[Any], author_id: ColumnElement[int], *, last: bool
) -> ScalarSelect[Any]:
    """``column`` of a student's first (or ``last``) counted reply in the course.

    One seek in ix_replies_author_course_time (student, course, time, id), on SQLite.
    """
    r = REPLIES.c
    order = [r.created_at.desc(), r.message_id.desc()] if last else [r.created_at, r.message_id]
    return (
        select(column)
        .where(r.author_id == author_id, r.course == bindparam("course"), r.deleted_at.is_(None))
        .order_by(*order)
        .limit(1)
        .scalar_subquery()
    )


def _audit(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        course=row.course,
        actor_id=row.actor_id,
        action=row.action,
        detail=row.detail,
        at=row.at,
    )


def _rowcount(result: Any) -> int:
    """Rows changed by an UPDATE or DELETE (the ORM types its result as a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount)


# --- the repository ---------------------------------------------------------------------


class Repository:
    """Seminar's database operations; each public method is one transaction."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        bind = sessions.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("the sessionmaker must be bound to an AsyncEngine")
        self._sessions = sessions
        self._dialect = bind.dialect.name

    def _insert(self, table: Any) -> sqlite.Insert | postgresql.Insert:
        """An INSERT that supports ON CONFLICT on the engine's database."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # --- lesson posts -------------------------------------------------------------------

    async def claim_post(
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
        post from what :meth:`get_post` and :meth:`threads_for_post` say was already sent.
        """
        now = now or utcnow()
        stmt = self._insert_occurrence(course, lesson, scheduled_at, due_at, claimant, now,
                                       status="claimed", attempts=1)
        async with self._sessions.begin() as session:
            post_id = (await session.execute(stmt)).scalar_one_or_none()
            if post_id is not None or stale_after is None:
                return post_id
            existing = await session.scalar(
                select(LessonPost.id).where(
                    LessonPost.course == course,
                    LessonPost.lesson == lesson,
                    LessonPost.scheduled_at == scheduled_at,
                )
            )
            if existing is None:
                return None
            return await self._take_over(session, existing, claimant, now - stale_after, now)

    def _insert_occurrence(
        self,
        course: str,
        lesson: str,
        scheduled_at: dt.datetime,
        due_at: dt.datetime | None,
        claimant: str,
        now: dt.datetime,
        *,
        status: PostStatus,
        attempts: int,
        reason: str | None = None,
    ) -> Any:
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

    async def take_over_claim(
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
            won = await self._take_over(session, post_id, claimant, now - stale_after, now,
                                        gone_holder=gone_holder)
        return won is not None

    async def _take_over(
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
            return _rowcount(await session.execute(stmt)) == 1

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
            return _rowcount(await session.execute(stmt)) == 1

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

    async def record_post_message(
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

    async def mark_post(
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
            return _rowcount(await session.execute(stmt)) == 1

    async def get_post(self, post_id: int) -> Post | None:
        """The post with this id."""
        async with self._sessions() as session:
            row = await session.get(LessonPost, post_id)
            return _post(row) if row is not None else None

    async def find_post(
        self, course: str, lesson: str, scheduled_at: dt.datetime
    ) -> Post | None:
        """The post of one occurrence, if it was claimed or skipped."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(LessonPost).where(
                    LessonPost.course == course,
                    LessonPost.lesson == lesson,
                    LessonPost.scheduled_at == scheduled_at,
                )
            )
            return _post(row) if row is not None else None

    async def posts(
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

    async def recent_posts(self, course: str, limit: int = 10) -> list[Post]:
        """The course's latest posts of any status, newest first."""
        return await self.posts(course, limit=limit, newest_first=True)

    async def latest_post(self, course: str, lesson: str | None = None) -> Post | None:
        """The course's most recently scheduled posted lesson (or posted ``lesson``)."""
        posted: tuple[PostStatus, ...] = ("posted",)
        found = await self.posts(
            course, lesson=lesson, statuses=posted, limit=1, newest_first=True
        )
        return found[0] if found else None

    async def posts_due_between(
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

    async def stale_claims(
        self, stale_after: dt.timedelta, *, now: dt.datetime | None = None
    ) -> list[Post]:
        """Claims never completed and older than ``stale_after`` (crashed mid-post)."""
        cutoff = (now or utcnow()) - stale_after
        stmt = select(LessonPost).where(
            LessonPost.status == "claimed", LessonPost.claimed_at < cutoff
        )
        return await self._posts(stmt.order_by(LessonPost.scheduled_at, LessonPost.id))

    async def _posts(self, stmt: Select[LessonPost]) -> list[Post]:
        async with self._sessions() as session:
            return [_post(row) for row in await session.scalars(stmt)]

    # --- question threads ---------------------------------------------------------------

    async def threads_for_post(self, post_id: int) -> list[Thread]:
        """The post's recorded question threads, by question."""
        stmt = (
            select(QuestionThread)
            .where(QuestionThread.post_id == post_id)
            .order_by(QuestionThread.question_index)
        )
        async with self._sessions() as session:
            return [_thread(row) for row in await session.scalars(stmt)]

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
        ids = list(thread_ids)
        if not ids:
            return 0
        stmt = (
            update(QuestionThread)
            .where(QuestionThread.thread_id.in_(ids), QuestionThread.locked.is_(False))
            .values(locked=True)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return _rowcount(await session.execute(stmt))

    # --- replies ------------------------------------------------------------------------

    async def record_replies(
        self, replies: Sequence[NewReply], *, cursors: Mapping[int, int] | None = None
    ) -> int:
        """Record replies in one transaction; how many were new.

        A message id already recorded is left exactly as it is, so recording the same
        reply twice (a duplicated event, a backfill overlap) changes nothing. ``cursors``
        (thread id -> message id) are advanced in the same transaction: backfill uses it;
        the live listener must not, since it may have missed earlier messages.
        """
        rows = [_reply_values(reply) for reply in replies]
        new = 0
        async with self._sessions.begin() as session:
            if rows and self._dialect == "sqlite":
                # Multi-row INSERTs of power-of-two pages, counted by rowcount (see
                # _sqlite_pages). OR IGNORE, not ON CONFLICT DO NOTHING: SQLAlchemy sends
                # a parameter list as one multi-row statement only without an ON CONFLICT
                # clause (storage.engine turns that on); replies have no other constraint
                # that OR IGNORE could swallow but the primary key (foreign keys still fail).
                stmt = self._insert(Reply.__table__).prefix_with("OR IGNORE")
                for page in _sqlite_pages(rows):
                    new += _rowcount(await session.execute(stmt, page))
            elif rows:
                # One statement with a parameter list: SQLAlchemy sends it as multi-row
                # INSERTs in batches, and the compiled form is cached across calls.
                returning = (
                    self._insert(Reply.__table__)
                    .on_conflict_do_nothing(index_elements=["message_id"])
                    .returning(Reply.__table__.c.message_id)
                )
                new = len((await session.execute(returning, rows)).all())
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
            return _rowcount(await session.execute(stmt)) == 1

    async def mark_deleted(self, message_id: int, at: dt.datetime) -> bool:
        """Mark a reply deleted (kept, not erased); False if unknown or already deleted."""
        return await self.mark_deleted_many([message_id], at) == 1

    async def mark_deleted_many(self, message_ids: Iterable[int], at: dt.datetime) -> int:
        """Mark several replies deleted (a bulk delete); how many changed."""
        ids = list(message_ids)
        if not ids:
            return 0
        stmt = (
            update(Reply)
            .where(Reply.message_id.in_(ids), Reply.deleted_at.is_(None))
            .values(deleted_at=at)
            .execution_options(synchronize_session=False)
        )
        async with self._sessions.begin() as session:
            return _rowcount(await session.execute(stmt))

    async def reply(self, message_id: int) -> ReplyRecord | None:
        """One recorded reply, deleted or not."""
        async with self._sessions() as session:
            row = await session.get(Reply, message_id)
            return _reply(row) if row is not None else None

    async def replies(
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

    async def export_rows(self, course: str, lesson: str | None = None) -> list[ReplyRecord]:
        """The replies a gradebook export is built from (deleted replies excluded)."""
        return await self.replies(course, lesson=lesson)

    async def replies_for_student(self, course: str, user_id: int) -> list[ReplyRecord]:
        """Everything recorded about one student's replies, deleted ones included."""
        return await self.replies(course, author_id=user_id, include_deleted=True)

    async def standing_reply_ids(self, thread_id: int, *, below: int) -> set[int]:
        """Message ids of a thread's recorded replies not marked deleted, below ``below``.

        What catch-up compares a thread's history with: a reply recorded here but no longer
        in the history was deleted while the bot was not listening.
        """
        stmt = select(Reply.message_id).where(
            Reply.thread_id == thread_id, Reply.deleted_at.is_(None), Reply.message_id < below)
        async with self._sessions() as session:
            return set((await session.scalars(stmt)).all())

    # --- cursors ------------------------------------------------------------------------

    async def get_cursor(self, thread_id: int) -> int | None:
        """The message id backfill has read a thread up to, if any."""
        async with self._sessions() as session:
            return await session.scalar(
                select(ThreadCursor.last_message_id).where(ThreadCursor.thread_id == thread_id)
            )

    async def get_cursors(self, thread_ids: Iterable[int] | None = None) -> dict[int, int]:
        """Cursors of the given threads (or all), thread id -> message id."""
        stmt = select(ThreadCursor.thread_id, ThreadCursor.last_message_id)
        if thread_ids is not None:
            stmt = stmt.where(ThreadCursor.thread_id.in_(list(thread_ids)))
        async with self._sessions() as session:
            return {t: m for t, m in await session.execute(stmt)}

    async def advance_cursor(self, thread_id: int, message_id: int) -> int:
        """Move a thread's cursor forward to ``message_id`` (never back); the cursor now."""
        async with self._sessions.begin() as session:
            await self._advance_cursors(session, {thread_id: message_id})
            cursor = await session.scalar(
                select(ThreadCursor.last_message_id).where(ThreadCursor.thread_id == thread_id)
            )
        assert cursor is not None
        return cursor

    async def advance_cursors(self, cursors: Mapping[int, int]) -> None:
        """Move several threads' cursors forward in one transaction."""
        if cursors:
            async with self._sessions.begin() as session:
                await self._advance_cursors(session, cursors)

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

    # --- reports ------------------------------------------------------------------------

    async def summary(
        self,
        course: str,
        *,
        lesson: str | None = None,
        post_id: int | None = None,
        author_id: int | None = None,
        until: dt.datetime | None = None,
        min_words: int = 0,
        cutoffs: Sequence[dt.datetime] = (),
    ) -> list[StudentSummary]:
        """Per-student participation in a course (or one lesson, post or student), by id.

        Counts only replies not deleted; with ``until``, only replies made before it;
        ``substantive_replies`` counts replies of at least ``min_words`` words. For each of
        ``cutoffs`` (checkpoints), ``before`` has the substantive replies and substantive
        peer replies made before it, counted in the same pass: a report, checkpoints and all,
        is one scan of the course (or lesson) report index. Students with no reply are
        absent: the caller knows the class list.
        """
        params: dict[str, Any] = {"course": course, "min_words": min_words}
        narrowed = {"lesson": lesson, "post_id": post_id, "author_id": author_id, "until": until}
        params.update({name: value for name, value in narrowed.items() if value is not None})
        # On SQLite, min() and max() over every row cost a quarter of the whole count: over a
        # whole course, two seeks per student (ix_replies_author_course_time) find the first
        # and latest reply instead. A lesson, a post or a cut-off time would spoil the seek,
        # and PostgreSQL runs min() and max() cheaper than two subqueries a student.
        whole_course = not params.keys() & {"lesson", "post_id", "until"}
        seek_edges = whole_course and self._dialect == "sqlite"
        stmt = _summary_statement(frozenset(params), seek_edges, len(cutoffs))
        params.update({f"cutoff_{i}": cutoff for i, cutoff in enumerate(cutoffs)})
        async with self._sessions() as session:
            rows = await session.execute(stmt, params)
            return _summaries(rows, cutoffs)

    async def lesson_totals(
        self, course: str, *, author_id: int | None = None
    ) -> list[LessonTotal]:
        """Replies per posted lesson of a course (lessons with no reply too), in post order.

        With ``author_id``, only that student's replies are counted (``/mystats``).
        """
        joined = and_(
            Reply.post_id == LessonPost.id, Reply.deleted_at.is_(None)
        )
        if author_id is not None:
            joined = and_(joined, Reply.author_id == author_id)
        stmt = (
            select(
                LessonPost.lesson,
                func.min(LessonPost.scheduled_at).label("first_at"),
                func.count(Reply.message_id).label("replies"),
                func.count(Reply.author_id.distinct()).label("students"),
                func.coalesce(func.sum(Reply.word_count), 0).label("words"),
            )
            .outerjoin(Reply, joined)
            .where(LessonPost.course == course, LessonPost.status == "posted")
            .group_by(LessonPost.lesson)
            .order_by("first_at", LessonPost.lesson)
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
        return [
            LessonTotal(
                lesson=row.lesson,
                first_scheduled_at=row.first_at,
                replies=int(row.replies),
                students=int(row.students),
                words=int(row.words),
            )
            for row in rows
        ]

    # --- privacy ------------------------------------------------------------------------

    async def delete_student(self, course: str, user_id: int) -> int:
        """Erase one student's records in a course; how many replies were deleted.

        Other students' replies to them keep counting as peer replies, but no longer say to
        whom (the id becomes 0).
        """
        course_posts = select(LessonPost.id).where(LessonPost.course == course)
        async with self._sessions.begin() as session:
            deleted = _rowcount(
                await session.execute(
                    delete(Reply)
                    .where(Reply.course == course, Reply.author_id == user_id)
                    .execution_options(synchronize_session=False)
                )
            )
            await session.execute(
                update(Reply)
                .where(Reply.course == course, Reply.reply_to_author_id == user_id)
                .values(reply_to_author_id=0)
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                delete(ReminderSent)
                .where(ReminderSent.user_id == user_id, ReminderSent.post_id.in_(course_posts))
                .execution_options(synchronize_session=False)
            )
            await session.execute(
                delete(ReminderOptOut)
                .where(ReminderOptOut.course == course, ReminderOptOut.user_id == user_id)
                .execution_options(synchronize_session=False)
            )
        return deleted

    async def purge_older_than(self, course: str, cutoff: dt.datetime) -> int:
        """Delete a course's replies (and reminder marks) older than ``cutoff``; replies gone."""
        old_posts = select(LessonPost.id).where(
            LessonPost.course == course, LessonPost.scheduled_at < cutoff
        )
        async with self._sessions.begin() as session:
            deleted = _rowcount(
                await session.execute(
                    delete(Reply)
                    .where(Reply.course == course, Reply.created_at < cutoff)
                    .execution_options(synchronize_session=False)
                )
            )
            await session.execute(
                delete(ReminderSent)
                .where(ReminderSent.post_id.in_(old_posts))
                .execution_options(synchronize_session=False)
            )
        return deleted

    # --- reminders ----------------------------------------------------------------------

    async def record_reminders(
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

    async def release_reminders(self, post_id: int, user_ids: Iterable[int]) -> int:
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
            return _rowcount(await session.execute(stmt))

    async def reminded(self, post_id: int) -> set[int]:
        """Students already reminded for a post."""
        stmt = select(ReminderSent.user_id).where(ReminderSent.post_id == post_id)
        async with self._sessions() as session:
            return set(await session.scalars(stmt))

    async def set_reminder_opt_out(
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

    # --- bot state ----------------------------------------------------------------------

    async def get_state(self, key: str) -> str | None:
        """The value the bot stored under ``key``, or None."""
        async with self._sessions() as session:
            value: str | None = await session.scalar(
                select(BotState.value).where(BotState.key == key)
            )
            return value

    async def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""
        stmt = self._insert(BotState).values(key=key, value=value, updated_at=utcnow())
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    # --- audit log ----------------------------------------------------------------------

    async def audit(
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

    async def list_audit(
        self,
        course: str,
        *,
        limit: int = 50,
        since: dt.datetime | None = None,
        action: str | None = None,
    ) -> list[AuditRecord]:
        """A course's audit log, newest first."""
        stmt = select(AuditEntry).where(AuditEntry.course == course)
        if since is not None:
            stmt = stmt.where(AuditEntry.at >= since)
        if action is not None:
            stmt = stmt.where(AuditEntry.action == action)
        stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        async with self._sessions() as session:
            return [_audit(row) for row in await session.scalars(stmt)]


_NEW_REPLY_FIELDS = tuple(f.name for f in fields(NewReply))

# Rows per multi-row INSERT on SQLite: below SQLAlchemy's insertmanyvalues page (1,000),
# so that each execute is one statement and its rowcount covers the whole page.
SQLITE_PAGE = 512


def _sqlite_pages(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
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


def _reply_values(reply: NewReply) -> dict[str, Any]:
    """Column values of a new reply (display names cut to the column's size)."""
    # A shallow copy: dataclasses.asdict deep-copies every value, which cost more than the
    # INSERT itself on the reply hot path.
    values = {name: getattr(reply, name) for name in _NEW_REPLY_FIELDS}
    values["author_name"] = reply.author_name[:AUTHOR_NAME_MAX]
    values["deleted_at"] = None
    return values

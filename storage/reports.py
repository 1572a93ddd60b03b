"""The report queries: per-student totals and per-lesson totals, each one pass over the replies.

What ``/participation``, ``/mystats`` and the gradebook export are built from; the grading
itself is :mod:`bot.core.reports`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import fields, replace
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, Select, and_, bindparam, func, select

from storage.base import Store
from storage.models import LessonPost, Reply
from storage.records import CutoffCounts, LessonTotal, StudentTotals

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
    order of :class:`StudentTotals`'s fields, then two per cut-off.
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
) -> list[StudentTotals]:
    """Summary rows as :class:`StudentTotals`; their last columns are the cut-off counts."""
    if not cutoffs:
        return [StudentTotals(*row) for row in rows]
    width = len(fields(StudentTotals)) - 1  # every field but ``before``
    return [
        replace(
            StudentTotals(*row[:width]),
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


class ReportStore(Store):
    """Totals per student and per lesson (deleted replies never count)."""

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
    ) -> list[StudentTotals]:
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

    async def answered(self, course: str, *, lesson: str | None = None) -> set[int]:
        """Students of a course (or lesson) whose replies a classmate has answered.

        An answer is a reply (not deleted) to them by someone else: a Discord reply to their
        message, or a mention. One pass over the course's (or lesson's) replies.
        """
        r = Reply
        stmt = select(r.reply_to_author_id).distinct().where(
            r.course == course, r.deleted_at.is_(None), r.reply_to_author_id.is_not(None),
            r.reply_to_author_id != r.author_id)
        if lesson is not None:
            stmt = stmt.where(r.lesson == lesson)
        async with self._sessions() as session:
            return {int(author) for author in await session.scalars(stmt) if author is not None}

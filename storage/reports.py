"""The report queries: per-student totals and per-lesson totals, each one pass over the replies.

What ``/participation``, ``/mystats`` and the gradebook export are built from; the grading
itself is :mod:`bot.core.reports`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Select,
    and_,
    bindparam,
    case,
    distinct,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Store
from storage.models import Extension, LessonPost, QuestionThread, Reply
from storage.records import (
    NOTHING_LATE,
    CutoffCounts,
    LessonTotal,
    LessonWork,
    PostedLesson,
    StudentTotals,
)
from storage.types import UTCDateTime
from storage.work import WORK, counts_of, decode_late, moment, store_counts

REPLIES = Reply.__table__
#: Past this share of stale rows (1 in STALE_SHARE), grading recounts the whole scope in SQL
#: rather than reply by reply.
STALE_SHARE = 4
POSTS = LessonPost.__table__
EXTENSIONS = Extension.__table__


def graded_words(reply: Any = REPLIES.c) -> ColumnElement[int]:
    """A reply's words for grading: as at its author's due time when edited after it."""
    return func.coalesce(reply.due_word_count, reply.word_count)


@functools.cache
def _work_statements(filters: frozenset[str]) -> tuple[Select[Any], Select[Any]]:
    """The grading queries: per student and posted lesson, then the late substantive replies.

    Each reads only the report indexes (counted replies). A reply's ``late`` mark is kept
    against its author's own due time (extensions re-mark it), so no join is needed.
    """
    r = REPLIES.c
    substantive = graded_words(r) >= bindparam("min_words")
    peer = r.reply_to_author_id != r.author_id
    conditions: list[ColumnElement[bool]] = [r.course == bindparam("course"),
                                             r.deleted_at.is_(None)]
    if "lesson" in filters:
        conditions.append(r.lesson == bindparam("lesson"))
    if "author_id" in filters:
        conditions.append(r.author_id == bindparam("author_id"))
    on_time = and_(substantive, ~r.late)
    per_lesson = (
        select(
            r.author_id,
            r.post_id,
            func.count().label("replies"),
            func.count().filter(substantive).label("substantive"),
            func.count(distinct(case((on_time, r.thread_id)))).label("questions"),
            func.count(distinct(case((and_(on_time, peer), r.reply_to_author_id))))
            .label("classmates"),
            func.min(r.created_at).label("first_at"),
            func.max(r.created_at).label("last_at"),
            func.count().filter(r.due_word_count.is_not(None)).label("edited_after_due"),
        )
        .where(*conditions)
        .group_by(r.author_id, r.post_id)
    )
    # A late reply earns something only for a question or a classmate not done on time.
    earlier = REPLIES.alias("earlier")
    e = earlier.c
    done_on_time = [e.course == r.course, e.author_id == r.author_id, e.post_id == r.post_id,
                    e.deleted_at.is_(None), ~e.late,
                    graded_words(e) >= bindparam("min_words")]
    late = (
        select(
            r.author_id,
            r.post_id,
            case((exists().where(*done_on_time, e.thread_id == r.thread_id), None),
                 else_=r.thread_id).label("question"),
            case((and_(peer, ~exists().where(
                *done_on_time, e.reply_to_author_id == r.reply_to_author_id)),
                r.reply_to_author_id)).label("classmate"),
            r.created_at,
        )
        .where(*conditions, substantive, r.late)
        .order_by(r.created_at)
    )
    return per_lesson, late


@dataclass(frozen=True, slots=True)
class GradedReply:
    """What grading reads of one reply (the recount's input)."""

    author_id: int
    post_id: int
    thread_id: int
    reply_to_author_id: int | None
    created_at: dt.datetime
    words: int
    edited_after_due: bool
    deleted_at: dt.datetime | None


def recount(replies: Iterable[GradedReply], due_at: dt.datetime | None, *, extended: bool,
            min_words: int) -> LessonWork | None:
    """One student's :class:`LessonWork` for one lesson, counted reply by reply.

    The definition the SQL aggregate must match (tests compare them), and what grading uses
    for the few lessons where a reply was deleted after the due time.
    """
    rows = [r for r in replies
            if r.deleted_at is None or (due_at is not None and r.deleted_at > due_at)]
    if not rows:
        return None
    questions: set[int] = set()
    classmates: set[int] = set()
    late_questions: dict[int, dt.datetime] = {}
    late_classmates: dict[int, dt.datetime] = {}
    for reply in sorted(rows, key=lambda r: r.created_at):
        if reply.words < min_words:
            continue
        late = due_at is not None and reply.created_at > due_at
        classmate = reply.reply_to_author_id
        peer = classmate is not None and classmate != reply.author_id
        if not late:
            questions.add(reply.thread_id)
            if peer and classmate is not None:
                classmates.add(classmate)
            continue
        late_questions.setdefault(reply.thread_id, reply.created_at)
        if peer and classmate is not None:
            late_classmates.setdefault(classmate, reply.created_at)
    first = rows[0]
    return LessonWork(
        author_id=first.author_id,
        post_id=first.post_id,
        due_at=due_at,
        extended=extended,
        replies=len(rows),
        substantive=sum(1 for r in rows if r.words >= min_words),
        on_time_questions=len(questions),
        on_time_classmates=len(classmates),
        first_at=min(r.created_at for r in rows),
        last_at=max(r.created_at for r in rows),
        edited_after_due=sum(1 for r in rows if r.edited_after_due),
        deleted_after_due=sum(1 for r in rows if r.deleted_at is not None),
        late_questions={q: at for q, at in late_questions.items() if q not in questions},
        late_classmates={c: at for c, at in late_classmates.items() if c not in classmates},
    )


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


#: "Now" when none is given: every posted lesson is graded.
END_OF_TIME = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


@dataclass
class SimpleScores:
    """Rows grading can score in SQL: counted, current, due, no extension, and either nothing
    late or every part already full on time.

    Such a row of a graded post (due by ``now``) scores ``questions share + classmates
    share``, each rounded half up in hundredths: the integer arithmetic of
    :mod:`bot.core.grading` for whole counts, with ``questions`` (the policy's, at most as
    many as the post's threads) and ``classmates`` asked for. ``sums`` gets, per student, the
    cents and how many such rows.
    """

    question_cents: int
    classmate_cents: int
    questions: int
    classmates: int
    now: dt.datetime | None
    #: Per lesson instead of summed (a policy that drops lessons): ``scored`` gets, per
    #: student, the cents of each such row by post id.
    by_lesson: bool = False
    sums: dict[int, tuple[int, int]] = field(default_factory=dict)
    scored: dict[int, dict[int, int]] = field(default_factory=dict)

    def params(self, course: str, min_words: int) -> dict[str, Any]:
        return {"course": course, "min_words": min_words, "question_cents": self.question_cents,
                "classmate_cents": self.classmate_cents, "questions": self.questions,
                "classmates": self.classmates, "now": self.now or END_OF_TIME}


@functools.cache
def _simple_statements(
    dialect: str, by_lesson: bool = False
) -> tuple[Select[Any], Select[Any], Select[Any]]:
    """The sums of simple rows per student, the graded posts' other rows, and the rows of
    posts not graded yet; one set of statements, values bound (see :class:`SimpleScores`)."""
    w, e, t = WORK.c, EXTENSIONS.c, QuestionThread.__table__.c
    post = POSTS.c
    threads = func.count(t.id)
    questions = bindparam("questions", type_=Integer)
    needs = (
        select(post.id.label("post_id"), post.lesson, post.due_at,
               case((threads == 0, questions), (threads < questions, threads),
                    else_=questions).label("needed"))
        .select_from(POSTS.outerjoin(QuestionThread.__table__, t.post_id == post.id))
        .where(post.course == bindparam("course"), post.status == "posted",
               or_(post.due_at.is_(None), post.due_at <= bindparam("now", type_=UTCDateTime())))
        .group_by(post.id, post.lesson, post.due_at)
        .subquery("needs")
    )
    n = needs.c
    classmates = bindparam("classmates", type_=Integer)
    # Each term true or false, never NULL: the other rows are those where NOT all hold.
    terms = [
        w.counted_version.is_not_distinct_from(w.version),
        w.min_words.is_not_distinct_from(bindparam("min_words", type_=Integer)),
        w.due_at.is_not_distinct_from(n.due_at),
        # Late items earn nothing more once the parts are full on time.
        or_(w.late_items.is_(None),
            and_(w.on_time_questions >= n.needed, w.on_time_classmates >= classmates)),
        w.replies > 0,
        ~exists().where(e.course == w.course, e.lesson == n.lesson,
                        e.user_id == w.author_id).correlate_except(EXTENSIONS),
    ]

    def share(cents: Any, done: Any, needed: Any) -> Any:
        done = case((done < needed, done), else_=needed)
        return (2 * cents * done + needed) // (2 * needed)  # half up, as grading.share

    cents = share(bindparam("question_cents", type_=Integer), w.on_time_questions, n.needed)
    cents = cents + case((classmates == 0, 0), else_=share(
        bindparam("classmate_cents", type_=Integer), w.on_time_classmates,
        case((classmates == 0, 1), else_=classmates)))
    joined = needs.join(WORK, and_(w.course == bindparam("course"), w.post_id == n.post_id))
    if by_lesson:  # every row, its cents when simple (NULL otherwise): tested in the list
        sums = select(w.author_id, w.post_id, case((and_(*terms), cents))).select_from(joined)
    elif dialect == "postgresql":
        # Tested in the sums, not in WHERE: PostgreSQL cannot estimate a test between two
        # columns (it guessed 97 rows of 19,459 and compared every row with every post).
        simple = and_(*terms)
        sums = (select(w.author_id, func.sum(case((simple, cents), else_=0)),
                       func.count().filter(simple))
                .select_from(joined).group_by(w.author_id))
    else:  # SQLite stops at the first test that fails
        sums = (select(w.author_id, func.sum(cents), func.count()).select_from(joined)
                .where(*terms).group_by(w.author_id))
    columns = _kept_columns(times=False)
    others = select(*columns).select_from(joined).where(~and_(*terms))
    not_due = select(*columns).where(w.course == bindparam("course"),
                                     w.post_id.not_in(select(n.post_id)))
    return sums, others, not_due


def _kept_columns(*, times: bool) -> list[Any]:
    w = WORK.c
    columns = [w.author_id, w.post_id, w.version, w.counted_version, w.min_words, w.due_at,
               w.replies, w.substantive, w.on_time_questions, w.on_time_classmates,
               w.edited_after_due, w.deleted_after_due, w.late_items]
    return [*columns, w.first_at, w.last_at] if times else columns


@dataclass(frozen=True, slots=True)
class _Dues:
    """A course's posts (lesson, due time) and its students' extensions: whose due time when.

    Called with a student and a post: their due time, and whether it is their own.
    """

    posts: dict[int, tuple[str, dt.datetime | None]]
    extended: dict[tuple[int, str], dt.datetime]

    @classmethod
    async def of(cls, session: AsyncSession, course: str) -> _Dues:
        posts = {p.id: (p.lesson, p.due_at) for p in (await session.execute(
            select(LessonPost.id, LessonPost.lesson, LessonPost.due_at)
            .where(LessonPost.course == course))).all()}
        extended = {(e.user_id, e.lesson): e.due_at for e in await session.scalars(
            select(Extension).where(Extension.course == course))}
        return cls(posts, extended)

    def __call__(self, author: int, post_id: int) -> tuple[dt.datetime | None, bool]:
        lesson, post_due = self.posts.get(post_id, ("", None))
        own = self.extended.get((author, lesson))
        return (own, True) if own is not None else (post_due, False)


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

    async def work(
        self,
        course: str,
        *,
        min_words: int = 0,
        lesson: str | None = None,
        author_id: int | None = None,
        keep: bool = True,
        times: bool = True,
        summed: SimpleScores | None = None,
    ) -> list[LessonWork]:
        """What grading needs: per student and posted lesson, their replies' counts.

        Against each student's own due time (their extension, else the post's); see
        :class:`~storage.records.LessonWork`. Narrowed to a lesson or a student when given.
        Read from the kept counts (:mod:`storage.work`); those a write, a new due time or
        another ``min_words`` made stale are recounted from the replies and, with ``keep``,
        stored back. Always equal to :func:`recount` over the replies; without ``times``,
        ``first_at`` and ``last_at`` of the kept rows are left out (only clumping needs them).

        With ``summed``, the rows it can score in SQL (see :class:`SimpleScores`) are summed
        per student into ``summed.sums`` instead of being returned.
        """
        w = WORK.c
        if summed is not None and (lesson is not None or author_id is not None or times):
            raise ValueError("only a whole course's totals are summed, without times")
        async with self._sessions() as session:
            due = await _Dues.of(session, course)
            posts, extended = due.posts, due.extended
            if summed is not None:
                sums, others, not_due = _simple_statements(self._dialect, summed.by_lesson)
                params = summed.params(course, min_words)
                if summed.by_lesson:
                    summed.scored = {}
                    for a, p, c in await session.execute(sums, params):
                        if c is not None:
                            summed.scored.setdefault(a, {})[p] = int(c)
                else:
                    summed.sums = {a: (int(c), int(n))
                                   for a, c, n in await session.execute(sums, params)}
                rows = list((await session.execute(others, params)).all())
                rows += (await session.execute(not_due, params)).all()
            else:
                kept = select(*_kept_columns(times=times)).where(w.course == course)
                if lesson is not None:
                    kept = kept.where(w.post_id.in_(
                        [p for p, (name, _) in posts.items() if name == lesson]))
                if author_id is not None:
                    kept = kept.where(w.author_id == author_id)
                rows = list((await session.execute(kept)).all())

        # The hot loop of a report: plain tuples, each post's due time looked up once.
        post_due = {p: due_at for p, (_, due_at) in posts.items()}
        own_due = {(author, p): due_at for p, (name, _) in posts.items()
                   for (author, lesson_name), due_at in extended.items() if lesson_name == name}
        work: list[LessonWork] = []
        stale: dict[tuple[int, int], int] = {}  # (student, post) -> version read
        for row in rows:
            (author, post_id, version, counted, row_words, row_due, replies, substantive,
             questions, classmates, edited, deleted, late_items) = row[:13]
            found = own_due.get((author, post_id)) if own_due else None
            due_at = found if found is not None else post_due.get(post_id)
            if counted != version or row_words != min_words or row_due != due_at:
                stale[(author, post_id)] = version
            elif replies:
                late_q, late_c = decode_late(late_items) if late_items else (
                    NOTHING_LATE, NOTHING_LATE)
                work.append(LessonWork(
                    author, post_id, due_at, found is not None, replies, substantive,
                    questions, classmates, moment(row[13]) if times else None,
                    moment(row[14]) if times else None, edited, deleted, late_q, late_c))
        if not stale:
            return work
        if len(stale) * STALE_SHARE > len(rows):
            counted = [w for w in await self._aggregate(course, min_words=min_words,
                                                        lesson=lesson, author_id=author_id)
                       if (w.author_id, w.post_id) in stale]
        else:
            async with self._sessions() as session:
                replies = await self._graded_replies(session, course, set(stale))
            counted = []
            for key in sorted(stale):
                due_at, own = due(*key)
                fresh = recount(replies.get(key, []), due_at, extended=own,
                                min_words=min_words)
                if fresh is not None:
                    counted.append(fresh)
        if keep:
            by_key = {(w.author_id, w.post_id): w for w in counted}
            updates = []
            for (author, post_id), version in stale.items():
                recounted = by_key.get((author, post_id))
                if recounted is None:  # no reply left that counts (all deleted in time)
                    due_at, own = due(author, post_id)
                    recounted = LessonWork(author, post_id, due_at, own, 0, 0, 0, 0, None,
                                           None, 0, 0)
                updates.append((post_id, author, version, counts_of(recounted, min_words)))
            async with self._sessions.begin() as session:
                await store_counts(session, course, updates)
        return work + counted

    async def _aggregate(
        self, course: str, *, min_words: int, lesson: str | None, author_id: int | None,
    ) -> list[LessonWork]:
        """Every student's LessonWork counted from the replies, in SQL: two passes over the
        report indexes, and reply by reply where a reply was deleted after the due time."""
        params: dict[str, Any] = {"course": course, "min_words": min_words}
        narrowed = {"lesson": lesson, "author_id": author_id}
        params.update({name: value for name, value in narrowed.items() if value is not None})
        per_lesson, late = _work_statements(frozenset(params))
        r = Reply
        deleted = select(r.author_id, r.post_id, r.deleted_at).where(
            r.course == course, r.deleted_at.is_not(None))
        if lesson is not None:
            deleted = deleted.where(r.lesson == lesson)
        if author_id is not None:
            deleted = deleted.where(r.author_id == author_id)
        async with self._sessions() as session:
            due = await _Dues.of(session, course)
            recounted = {(a, p) for a, p, at in await session.execute(deleted)
                         if (d := due(a, p)[0]) is not None and at is not None and at > d}
            rows = (await session.execute(per_lesson, params)).all()
            late_rows = (await session.execute(late, params)).all()
            replies = await self._graded_replies(session, course, recounted)
        late_questions: dict[tuple[int, int], dict[int, dt.datetime]] = {}
        late_classmates: dict[tuple[int, int], dict[int, dt.datetime]] = {}
        for author, post_id, question, classmate, at in late_rows:  # oldest first
            if question is not None:
                late_questions.setdefault((author, post_id), {}).setdefault(question, at)
            if classmate is not None:
                late_classmates.setdefault((author, post_id), {}).setdefault(classmate, at)
        work = []
        for row in rows:
            key = (row.author_id, row.post_id)
            if key in recounted:
                continue
            due_at, own = due(*key)
            work.append(LessonWork(
                author_id=row.author_id, post_id=row.post_id, due_at=due_at, extended=own,
                replies=int(row.replies), substantive=int(row.substantive),
                on_time_questions=int(row.questions), on_time_classmates=int(row.classmates),
                first_at=row.first_at, last_at=row.last_at,
                edited_after_due=int(row.edited_after_due), deleted_after_due=0,
                late_questions=late_questions.get(key, {}),
                late_classmates=late_classmates.get(key, {})))
        for key in sorted(recounted):
            due_at, own = due(*key)
            counted = recount(replies.get(key, []), due_at, extended=own, min_words=min_words)
            if counted is not None:
                work.append(counted)
        return work

    @staticmethod
    async def _graded_replies(
        session: AsyncSession, course: str, pairs: set[tuple[int, int]]
    ) -> dict[tuple[int, int], list[GradedReply]]:
        """Every reply of the given (student, post) pairs, as grading reads them."""
        found: dict[tuple[int, int], list[GradedReply]] = {}
        if not pairs:
            return found
        # Per post, its students: each term a seek in ix_replies_post_author (a list of pairs
        # made PostgreSQL compare every reply with every pair).
        by_post: dict[int, set[int]] = {}
        for author, post_id in pairs:
            by_post.setdefault(post_id, set()).add(author)
        r = Reply
        stmt = select(r.author_id, r.post_id, r.thread_id, r.reply_to_author_id, r.created_at,
                      graded_words(REPLIES.c), r.due_word_count.is_not(None), r.deleted_at
                      ).where(r.course == course, or_(*(
                          and_(r.post_id == post_id, r.author_id.in_(sorted(authors)))
                          for post_id, authors in sorted(by_post.items()))))
        for row in await session.execute(stmt):
            reply = GradedReply(*row)
            found.setdefault((reply.author_id, reply.post_id), []).append(reply)
        return found

    async def posted_lessons(self, course: str) -> list[PostedLesson]:
        """A course's posted lessons in post order, each with its number of question threads."""
        stmt = (
            select(LessonPost.id, LessonPost.lesson, LessonPost.scheduled_at, LessonPost.due_at,
                   func.count(QuestionThread.id))
            .outerjoin(QuestionThread, QuestionThread.post_id == LessonPost.id)
            .where(LessonPost.course == course, LessonPost.status == "posted")
            .group_by(LessonPost.id, LessonPost.lesson, LessonPost.scheduled_at,
                      LessonPost.due_at)
            .order_by(LessonPost.scheduled_at, LessonPost.id)
        )
        async with self._sessions() as session:
            return [PostedLesson(*row) for row in await session.execute(stmt)]

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

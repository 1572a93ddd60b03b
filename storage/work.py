"""Each student's counts per posted lesson, kept for grading: a cache the replies can rebuild.

Grading a term reads 20,000 small rows here instead of aggregating 120,000 replies. Every
write to a student's replies of a post bumps that row's ``version`` in the same transaction
(:func:`touch`, :func:`touch_messages`, :func:`touch_course`); the counts stored are those of
``counted_version``, for a ``min_words`` and against a due time. When any of the three no
longer holds, :meth:`ReportStore.work` recounts the row from the replies and stores it back,
guarded by the version it read: a write in between leaves it stale, never wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar, cast

from sqlalchemy import Table, bindparam, delete, exists, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import insert_for, rowcount
from storage.models import LessonWorkRow, Reply
from storage.records import LessonWork

WORK = cast(Table, LessonWorkRow.__table__)
#: The row's columns after its key and versions, in :func:`counts_of`'s order.
COUNT_COLUMNS = ("min_words", "due_at", "replies", "substantive", "on_time_questions",
                 "on_time_classmates", "first_at", "last_at", "edited_after_due",
                 "deleted_after_due", "late_items")


def millis(moment: dt.datetime | None) -> int | None:
    """A time as UNIX milliseconds (Discord's own precision)."""
    return None if moment is None else round(moment.timestamp() * 1000)


def moment(ms: int | None) -> dt.datetime | None:
    """UNIX milliseconds as an aware UTC time."""
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _encode_late(work: LessonWork) -> str | None:
    items = [f"q{key}@{millis(at)}" for key, at in sorted(work.late_questions.items())]
    items += [f"c{key}@{millis(at)}" for key, at in sorted(work.late_classmates.items())]
    return ";".join(items) or None


def decode_late(text: str) -> tuple[dict[int, dt.datetime], dict[int, dt.datetime]]:
    """The late questions and classmates of a row's ``late_items``."""
    questions: dict[int, dt.datetime] = {}
    classmates: dict[int, dt.datetime] = {}
    for item in text.split(";"):
        key, _, at = item[1:].partition("@")
        when = moment(int(at))
        assert when is not None
        (questions if item[0] == "q" else classmates)[int(key)] = when
    return questions, classmates


def counts_of(work: LessonWork, min_words: int) -> dict[str, Any]:
    """A LessonWork as the row's count columns."""
    return {
        "min_words": min_words,
        "due_at": work.due_at,
        "replies": work.replies,
        "substantive": work.substantive,
        "on_time_questions": work.on_time_questions,
        "on_time_classmates": work.on_time_classmates,
        "first_at": millis(work.first_at),
        "last_at": millis(work.last_at),
        "edited_after_due": work.edited_after_due,
        "deleted_after_due": work.deleted_after_due,
        "late_items": _encode_late(work),
    }


_EMPTY = {"replies": 0, "substantive": 0, "on_time_questions": 0, "on_time_classmates": 0,
          "edited_after_due": 0, "deleted_after_due": 0}


async def touch(session: AsyncSession, pairs: Iterable[tuple[str, int, int]]) -> None:
    """In the caller's transaction: the rows of these (course, post, student) changed."""
    rows = _touched(pairs)
    if rows:
        await session.execute(_touch_statement(session.get_bind().dialect.name), rows)


def touch_sync(connection: Any, pairs: Iterable[tuple[str, int, int]]) -> None:
    """:func:`touch` on a plain (threaded) connection."""
    rows = _touched(pairs)
    if rows:
        connection.execute(_touch_statement(connection.dialect.name), rows)


def _touched(pairs: Iterable[tuple[str, int, int]]) -> list[dict[str, Any]]:
    return [{"course": c, "post_id": p, "author_id": a, "version": 1, **_EMPTY}
            for c, p, a in sorted(set(pairs))]


def _touch_statement(dialect: str) -> Any:
    """A new row, or the next version of one already there."""
    return insert_for(dialect, WORK).on_conflict_do_update(
        index_elements=["course", "post_id", "author_id"], set_={"version": WORK.c.version + 1})


async def touch_messages(session: AsyncSession, message_ids: Iterable[int]) -> None:
    """In the caller's transaction: the rows of these replies' authors and posts changed."""
    ids = sorted(set(message_ids))
    if not ids:
        return
    pairs = (await session.execute(
        select(Reply.course, Reply.post_id, Reply.author_id).distinct()
        .where(Reply.message_id.in_(ids)))).all()
    await touch(session, [(c, p, a) for c, p, a in pairs])


async def touch_course(session: AsyncSession, course: str) -> None:
    """In the caller's transaction: every row of a course is to be counted again."""
    await session.execute(
        update(LessonWorkRow).where(LessonWorkRow.course == course)
        .values(version=LessonWorkRow.version + 1)
        .execution_options(synchronize_session=False))


async def drop_orphans(session: AsyncSession, course: str) -> int:
    """In the caller's transaction: forget the counts of lessons a student has no reply in
    any more (after retention purged their replies); how many."""
    return rowcount(await session.execute(
        delete(LessonWorkRow)
        .where(LessonWorkRow.course == course,
               ~exists().where(Reply.course == LessonWorkRow.course,
                               Reply.post_id == LessonWorkRow.post_id,
                               Reply.author_id == LessonWorkRow.author_id))
        .execution_options(synchronize_session=False)))


async def store_counts(session: AsyncSession, course: str,
                       counted: Iterable[tuple[int, int, int, dict[str, Any]]]) -> int:
    """Store recounted rows (post, student, version read, counts) unless written since.

    How many were stored; a row whose version moved on stays to be counted again. On
    PostgreSQL one ``UPDATE ... FROM unnest(arrays)`` (row by row, a whole term's 20,000 rows
    took seconds, and a statement of VALUES as long to compile); on SQLite one statement run
    for every row (its planner would scan a list of values for every row of the course).
    """
    rows = [(post, author, version, *(counts[k] for k in COUNT_COLUMNS))
            for post, author, version, counts in counted]
    if not rows:
        return 0
    if session.get_bind().dialect.name != "postgresql":
        names = [c.name for c in _FRESH_COLUMNS]
        stmt = (update(WORK)
                .where(WORK.c.course == course, WORK.c.post_id == bindparam("b_post_id"),
                       WORK.c.author_id == bindparam("b_author_id"),
                       WORK.c.version == bindparam("b_version"))
                .values(counted_version=bindparam("b_version"),
                        **{k: bindparam(f"b_{k}") for k in COUNT_COLUMNS}))
        result = await session.execute(
            stmt, [{f"b_{name}": value for name, value in zip(names, row, strict=True)}
                   for row in rows])
        return rowcount(result)
    # One statement, compiled once: every column a PostgreSQL array, unnested into rows.
    arrays = [bindparam(f"a_{c.name}", [row[i] for row in rows],
                        type_=postgresql.ARRAY(c.type))
              for i, c in enumerate(_FRESH_COLUMNS)]
    fresh = func.unnest(*arrays).table_valued(
        *(c.name for c in _FRESH_COLUMNS)).render_derived(name="fresh")
    f = fresh.c
    stmt = (update(WORK)
            .where(WORK.c.course == course, WORK.c.post_id == f.post_id,
                   WORK.c.author_id == f.author_id, WORK.c.version == f.version)
            .values(counted_version=f.version, **{k: f[k] for k in COUNT_COLUMNS}))
    return rowcount(await session.execute(stmt))


_FRESH_COLUMNS = [WORK.c.post_id, WORK.c.author_id, WORK.c.version,
                  *(WORK.c[k] for k in COUNT_COLUMNS)]


class WorkStore:
    """A student's kept counts are their data too: exported and forgotten with them."""

    #: The columns holding a user id that this store exports and forgets.
    user_columns: ClassVar[tuple[str, ...]] = ("lesson_work.author_id",)

    async def export_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, list[dict[str, Any]]]:
        """The counts kept for the student's lessons in a course."""
        stmt = (select(LessonWorkRow)
                .where(LessonWorkRow.course == course, LessonWorkRow.author_id == user_id)
                .order_by(LessonWorkRow.post_id))
        rows = []
        for row in await session.scalars(stmt):
            values = {c.name: getattr(row, c.name) for c in WORK.columns}
            rows.append(values)
        return {"lesson_work": rows}

    async def forget_student(self, session: AsyncSession, course: str,
                             user_id: int) -> dict[str, int]:
        """Erase the student's kept counts; their classmates' are counted again."""
        deleted = rowcount(await session.execute(
            delete(LessonWorkRow)
            .where(LessonWorkRow.course == course, LessonWorkRow.author_id == user_id)
            .execution_options(synchronize_session=False)))
        await touch_course(session, course)
        return {"lesson_work": deleted}


"""The plain records the stores return and take: frozen dataclasses, no SQLAlchemy objects.

One mapping from a row to a record (:func:`from_row`): a record's fields are read from the
row's attributes of the same names, so a column added to both needs no hand-written copy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Literal, TypeVar

PostStatus = Literal["claimed", "posted", "failed", "skipped"]
R = TypeVar("R")


def utcnow() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def from_row(record: type[R], row: object, **values: Any) -> R:
    """A ``record`` from the row's attributes of its fields' names (``values`` win)."""
    names = [f.name for f in fields(record)]  # type: ignore[arg-type]
    return record(**{name: values[name] if name in values else getattr(row, name)
                     for name in names})


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
    answer_first: bool = False


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

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Batches go to the writer process pickled (storage.bulk): as a tuple of values,
        # this is twice as fast as the slots dataclass's default (a dict of fields).
        # __match_args__: the dataclass's fields, in the order its constructor takes them.
        return (type(self), tuple(getattr(self, name) for name in self.__match_args__))


@dataclass(frozen=True, slots=True)
class ReplyRecord(NewReply):
    """A recorded reply, deleted or not: what was recorded, and when it was deleted."""

    deleted_at: dt.datetime | None = None
    due_word_count: int | None = None


@dataclass(frozen=True, slots=True)
class StudentTotals:
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

    What a checkpoint needs; :meth:`ReportStore.summary` returns one per ``cutoffs`` entry in
    :attr:`StudentTotals.before`, counted in the same pass as the totals.
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


#: No late item (shared: records are never changed in place).
NOTHING_LATE: Mapping[int, dt.datetime] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LessonWork:
    """One student's replies to one posted lesson, counted for grading.

    Over the replies that count for grading (not deleted before the student's due time),
    with their words as they were at that time. ``on_time_questions`` and
    ``on_time_classmates`` count the distinct questions (threads) and classmates the student
    answered substantively by ``due_at``; ``late_questions`` and ``late_classmates`` map each
    question (thread id) and classmate first reached after it to that reply's time.
    """

    author_id: int
    post_id: int
    due_at: dt.datetime | None
    extended: bool
    replies: int
    substantive: int
    on_time_questions: int
    on_time_classmates: int
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    edited_after_due: int
    deleted_after_due: int
    late_questions: Mapping[int, dt.datetime] = field(default_factory=lambda: NOTHING_LATE)
    late_classmates: Mapping[int, dt.datetime] = field(default_factory=lambda: NOTHING_LATE)


@dataclass(frozen=True, slots=True)
class PostedLesson:
    """A posted lesson of a course: its post, due time and how many question threads."""

    post_id: int
    lesson: str
    scheduled_at: dt.datetime
    due_at: dt.datetime | None
    questions: int

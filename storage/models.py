"""SQLAlchemy 2 models: lesson posts, question threads, replies, cursors, audit, reminders.

Discord ids (snowflakes) are ``BigInteger``; every datetime is a :class:`UTCDateTime`.
Only portable types are used, so SQLite and PostgreSQL run the same schema and tests.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

# Stable constraint names, so that migrations can name what they alter on both databases.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

POST_STATUSES: Final = ("claimed", "posted", "failed", "skipped")

# A Discord id used as a primary key: BIGINT, but INTEGER on SQLite so that it becomes the
# table's rowid (no second index; rows stored in id order, which is time order).
SnowflakeKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base holding the shared metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LessonPost(Base):
    """One occurrence of a lesson in a course's calendar, claimed once, then posted or not."""

    __tablename__ = "lesson_posts"
    __table_args__ = (
        UniqueConstraint("course", "lesson", "scheduled_at", name="uq_lesson_posts_occurrence"),
        CheckConstraint(
            "status IN ('claimed', 'posted', 'failed', 'skipped')", name="status"
        ),
        Index("ix_lesson_posts_course_scheduled", "course", "scheduled_at"),
        Index("ix_lesson_posts_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    course: Mapped[str] = mapped_column(String(50))
    lesson: Mapped[str] = mapped_column(String(100))
    scheduled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    channel_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Posted in answer-first mode (private question threads, an Answer button under each
    #: question); fixed when the post is first sent, whatever the config says later.
    answer_first: Mapped[bool] = mapped_column(Boolean, default=False,
                                               server_default=sa_false())


class QuestionThread(Base):
    """The Discord thread opened for one question of a posted lesson."""

    __tablename__ = "question_threads"
    __table_args__ = (
        UniqueConstraint("post_id", "question_index", name="uq_question_threads_question"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_posts.id", ondelete="CASCADE")
    )
    question_index: Mapped[int] = mapped_column(Integer)
    thread_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    starter_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)


# The replies a report counts, and what the report indexes hold after their leading key:
# post and thread first (counting distinct ones is cheaper in that order), deleted_at last
# (always NULL there, but SQLite only treats a partial index as covering if it holds it).
COUNTED: Final = text("deleted_at IS NULL")
REPORT_COLUMNS: Final = (
    "post_id",
    "thread_id",
    "word_count",
    "char_count",
    "reply_to_author_id",
    "late",
    "created_at",
    "message_id",
    "due_word_count",
    "deleted_at",
)
DELETED: Final = text("deleted_at IS NOT NULL")


class Reply(Base):
    """A student's message in a question thread: one row per Discord message, ever.

    ``course`` and ``lesson`` are copied from the post so that reports group replies without
    a join; ``text`` is kept only when the course opts in.
    """

    __tablename__ = "replies"
    __table_args__ = (
        # Cover the per-student summary of a course and of one lesson: counted replies only
        # (partial, WHERE deleted_at IS NULL) and every column the report reads, so the
        # report never reads the table. The third finds a student's first and last reply in
        # one seek each, and one student's replies in time order; it leads with the student
        # so that PostgreSQL does not scan a whole course through it (migration 0003).
        Index(
            "ix_replies_course_report",
            "course",
            "author_id",
            *REPORT_COLUMNS,
            sqlite_where=COUNTED,
            postgresql_where=COUNTED,
        ),
        Index(
            "ix_replies_lesson_report",
            "course",
            "lesson",
            "author_id",
            *REPORT_COLUMNS,
            sqlite_where=COUNTED,
            postgresql_where=COUNTED,
        ),
        Index(
            "ix_replies_author_course_time",
            "author_id",
            "course",
            "created_at",
            "message_id",
            "deleted_at",
        ),
        # Replies deleted after their due time still count for grading: found per course.
        Index(
            "ix_replies_course_deleted",
            "course",
            "author_id",
            "post_id",
            "deleted_at",
            sqlite_where=DELETED,
            postgresql_where=DELETED,
        ),
        Index("ix_replies_post_author", "post_id", "author_id"),
        Index("ix_replies_thread", "thread_id"),
        Index("ix_replies_course_created", "course", "created_at"),
    )

    message_id: Mapped[int] = mapped_column(SnowflakeKey, primary_key=True, autoincrement=False)
    thread_id: Mapped[int] = mapped_column(BigInteger)
    post_id: Mapped[int] = mapped_column(ForeignKey("lesson_posts.id", ondelete="CASCADE"))
    question_index: Mapped[int] = mapped_column(Integer)
    course: Mapped[str] = mapped_column(String(50))
    lesson: Mapped[str] = mapped_column(String(100))
    guild_id: Mapped[int] = mapped_column(BigInteger)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    word_count: Mapped[int] = mapped_column(Integer)
    char_count: Mapped[int] = mapped_column(Integer)
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger)
    reply_to_author_id: Mapped[int | None] = mapped_column(BigInteger)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str | None] = mapped_column(Text)
    #: The words it had at its author's due time, kept when it is edited after that time
    #: (NULL: never edited after it; grading reads ``word_count`` then).
    due_word_count: Mapped[int | None] = mapped_column(Integer)


class ThreadCursor(Base):
    """The newest message id of a thread that backfill has read up to."""

    __tablename__ = "thread_cursors"

    thread_id: Mapped[int] = mapped_column(SnowflakeKey, primary_key=True, autoincrement=False)
    last_message_id: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """A teacher's action (post, skip, export, forget, ...) with who and when."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_course_at", "course", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    course: Mapped[str] = mapped_column(String(50))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReminderSent(Base):
    """A reminder ping sent to one student for one lesson post (sent once, ever)."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("post_id", "user_id", name="uq_reminders_sent_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("lesson_posts.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(BigInteger)
    sent_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReminderOptOut(Base):
    """A student who asked for no reminders in a course."""

    __tablename__ = "reminder_opt_outs"

    course: Mapped[str] = mapped_column(String(50), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class BotState(Base):
    """A small named value the bot keeps between starts (e.g. the synced command set's hash)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


EXTENSION_SOURCES: Final = ("command", "config")


class Extension(Base):
    """One student's own due time for one lesson of a course (``/extend`` or the config).

    One row per student and lesson: a teacher's ``/extend`` (source ``command``) replaces the
    config's and is kept when the config changes.
    """

    __tablename__ = "extensions"
    __table_args__ = (
        CheckConstraint("source IN ('command', 'config')", name="source"),
    )

    course: Mapped[str] = mapped_column(String(50), primary_key=True)
    lesson: Mapped[str] = mapped_column(String(100), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    granted_by: Mapped[int | None] = mapped_column(BigInteger)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class LessonWorkRow(Base):
    """One student's counts for one posted lesson, kept for grading (a cache of the replies).

    Every write to the student's replies of that post bumps ``version`` in its transaction;
    the counts are those of ``counted_version`` (NULL: not counted yet), for ``min_words``
    and against the due time ``due_at``: grading recounts a row when any of
    the three no longer holds, so the counts always equal a recount of the replies.
    ``late_items`` lists the questions and classmates first reached after the due time;
    ``first_at``, ``last_at`` and the times in it are UNIX milliseconds (cheap to read).
    """

    __tablename__ = "lesson_work"

    course: Mapped[str] = mapped_column(String(50), primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("lesson_posts.id", ondelete="CASCADE"), primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    counted_version: Mapped[int | None] = mapped_column(Integer)
    min_words: Mapped[int | None] = mapped_column(Integer)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    substantive: Mapped[int] = mapped_column(Integer, default=0)
    on_time_questions: Mapped[int] = mapped_column(Integer, default=0)
    on_time_classmates: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[int | None] = mapped_column(BigInteger)
    last_at: Mapped[int | None] = mapped_column(BigInteger)
    edited_after_due: Mapped[int] = mapped_column(Integer, default=0)
    deleted_after_due: Mapped[int] = mapped_column(Integer, default=0)
    late_items: Mapped[str | None] = mapped_column(Text)


class RosterEntry(Base):
    """One student of a course's roster, imported from the school's LMS.

    ``key`` identifies them from one import to the next (``sis:...``, ``id:...``); ``user_id``
    is the Discord member linked to them, if any. A student no longer in the LMS's export is
    kept, with ``left_at`` set.
    """

    __tablename__ = "roster"
    __table_args__ = (
        UniqueConstraint("course", "user_id", name="uq_roster_member"),
    )

    course: Mapped[str] = mapped_column(String(50), primary_key=True)
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    lms_id: Mapped[str] = mapped_column(String(200), default="")
    sis_id: Mapped[str] = mapped_column(String(200), default="")
    login: Mapped[str] = mapped_column(String(300), default="")
    email: Mapped[str] = mapped_column(String(300), default="")
    section: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Answer(Base):
    """A student's first answer to a question of an answer-first lesson, posted by the bot.

    Claimed before it is posted (one per student and question: a double submit posts once);
    ``text`` is kept only until the bot has posted it as ``message_id``.
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("post_id", "question_index", "user_id", name="uq_answers_student"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("lesson_posts.id", ondelete="CASCADE"))
    question_index: Mapped[int] = mapped_column(Integer)
    course: Mapped[str] = mapped_column(String(50))
    lesson: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger)
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    text: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(BigInteger)

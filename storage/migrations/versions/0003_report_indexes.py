"""Report indexes: partial covering indexes of counted replies, per course and per lesson

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

The participation summary reads only replies that are not deleted. Two partial indexes
(``WHERE deleted_at IS NULL``) hold every column it reads, one for a course-wide report
(course, student, ...) and one for a lesson's (course, lesson, student, ...), so the report
touches neither the table nor deleted replies. Within a student they are ordered by post and
thread, which makes counting distinct questions and lessons cheaper. A third, narrow one
(student, course, time, message id, deleted_at) over all replies finds a student's first and
last counted reply in one seek each, and one student's replies in time order (their data
export, ``/forget``). It
leads with the student because, led by the course, it drew PostgreSQL's planner into scanning
a whole course through it and reading the table for every row (twice as slow).

They replace ``ix_replies_summary`` (which also held deleted replies) and
``ix_replies_course_lesson_author`` (which sent each lesson row back to the table).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = "deleted_at IS NULL"
# Every column the summary reads after its leading key. deleted_at is always NULL here, but
# SQLite only treats a partial index as covering when the columns of its WHERE are in it.
REPORT_COLUMNS = [
    "post_id",
    "thread_id",
    "word_count",
    "char_count",
    "reply_to_author_id",
    "late",
    "created_at",
    "message_id",
    "deleted_at",
]


def upgrade() -> None:
    """Create the three report indexes, then drop the two they replace."""
    where = sa.text(COUNTED)
    op.create_index(
        "ix_replies_course_report",
        "replies",
        ["course", "author_id", *REPORT_COLUMNS],
        sqlite_where=where,
        postgresql_where=where,
    )
    op.create_index(
        "ix_replies_lesson_report",
        "replies",
        ["course", "lesson", "author_id", *REPORT_COLUMNS],
        sqlite_where=where,
        postgresql_where=where,
    )
    op.create_index(
        "ix_replies_author_course_time",
        "replies",
        ["author_id", "course", "created_at", "message_id", "deleted_at"],
    )
    op.drop_index("ix_replies_summary", table_name="replies")
    op.drop_index("ix_replies_course_lesson_author", table_name="replies")


def downgrade() -> None:
    """Put back the 0001 indexes and drop the partial ones."""
    op.create_index("ix_replies_course_lesson_author", "replies", ["course", "lesson", "author_id"])
    op.create_index(
        "ix_replies_summary",
        "replies",
        [
            "course",
            "author_id",
            "deleted_at",
            "thread_id",
            "post_id",
            "word_count",
            "char_count",
            "reply_to_author_id",
            "late",
            "message_id",
        ],
    )
    op.drop_index("ix_replies_author_course_time", table_name="replies")
    op.drop_index("ix_replies_lesson_report", table_name="replies")
    op.drop_index("ix_replies_course_report", table_name="replies")

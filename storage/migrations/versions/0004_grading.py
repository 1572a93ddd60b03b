"""Grading: extensions (a student's own due time) and a reply's words at its due time

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

``extensions`` holds one due time per student and lesson, from ``/extend`` or the config;
``lesson_work`` keeps each student's counts per posted lesson for grading (see the model).
``replies.due_word_count`` keeps the words a reply had at its author's due time when it is
edited after that time, so that a late edit cannot raise a score. The two report indexes
gain that column, so that grading reads them alone, and a small partial index finds the
replies deleted in a course (those deleted after their due time still count for grading).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the extensions table and the replies' due-time word count."""
    op.create_table(
        "extensions",
        sa.Column("course", sa.String(50), nullable=False),
        sa.Column("lesson", sa.String(100), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("granted_by", sa.BigInteger(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('command', 'config')", name=op.f("ck_extensions_source")),
        sa.PrimaryKeyConstraint("course", "lesson", "user_id", name=op.f("pk_extensions")),
    )
    # A plain ADD COLUMN on both databases: no copy of the replies table.
    op.add_column("replies", sa.Column("due_word_count", sa.Integer(), nullable=True))
    _report_indexes(with_due_words=True)
    op.create_table(
        "lesson_work",
        sa.Column("course", sa.String(50), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("counted_version", sa.Integer(), nullable=True),
        sa.Column("min_words", sa.Integer(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("substantive", sa.Integer(), nullable=False),
        sa.Column("on_time_questions", sa.Integer(), nullable=False),
        sa.Column("on_time_classmates", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.BigInteger(), nullable=True),
        sa.Column("last_at", sa.BigInteger(), nullable=True),
        sa.Column("edited_after_due", sa.Integer(), nullable=False),
        sa.Column("deleted_after_due", sa.Integer(), nullable=False),
        sa.Column("late_items", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["lesson_posts.id"], ondelete="CASCADE",
                                name=op.f("fk_lesson_work_post_id_lesson_posts")),
        sa.PrimaryKeyConstraint("course", "post_id", "author_id", name=op.f("pk_lesson_work")),
    )
    # Every student's lessons so far, to be counted when grading first reads them.
    op.execute(
        "INSERT INTO lesson_work (course, post_id, author_id, version, replies, substantive, "
        "on_time_questions, on_time_classmates, edited_after_due, deleted_after_due) "
        "SELECT DISTINCT course, post_id, author_id, 1, 0, 0, 0, 0, 0, 0 FROM replies")
    deleted = sa.text("deleted_at IS NOT NULL")
    op.create_index("ix_replies_course_deleted", "replies",
                    ["course", "author_id", "post_id", "deleted_at"],
                    sqlite_where=deleted, postgresql_where=deleted)


COUNTED = "deleted_at IS NULL"
REPORT_COLUMNS = ["post_id", "thread_id", "word_count", "char_count", "reply_to_author_id",
                  "late", "created_at", "message_id"]


def _report_indexes(*, with_due_words: bool) -> None:
    """Create the report indexes again, with or without ``due_word_count``."""
    where = sa.text(COUNTED)
    columns = [*REPORT_COLUMNS, *(["due_word_count"] if with_due_words else []), "deleted_at"]
    for name, leading in (("ix_replies_course_report", ["course", "author_id"]),
                          ("ix_replies_lesson_report", ["course", "lesson", "author_id"])):
        op.drop_index(name, table_name="replies")
        op.create_index(name, "replies", [*leading, *columns],
                        sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    """Drop them again."""
    op.drop_table("lesson_work")
    op.drop_index("ix_replies_course_deleted", table_name="replies")
    _report_indexes(with_due_words=False)
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("due_word_count")
    op.drop_table("extensions")

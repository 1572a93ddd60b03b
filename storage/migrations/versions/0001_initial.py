"""Initial schema: posts, threads, replies, cursors, audit, reminders

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Initial schema: posts, threads, replies, cursors, audit, reminders."""
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("course", sa.String(length=50), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_course_at", "audit_log", ["course", "at"])

    op.create_table(
        "lesson_posts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("course", sa.String(length=50), nullable=False),
        sa.Column("lesson", sa.String(length=100), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('claimed', 'posted', 'failed', 'skipped')",
            name=op.f("ck_lesson_posts_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lesson_posts")),
        sa.UniqueConstraint("course", "lesson", "scheduled_at", name="uq_lesson_posts_occurrence"),
    )
    op.create_index("ix_lesson_posts_course_scheduled", "lesson_posts", ["course", "scheduled_at"])
    op.create_index("ix_lesson_posts_due_at", "lesson_posts", ["due_at"])

    op.create_table(
        "reminder_opt_outs",
        sa.Column("course", sa.String(length=50), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("course", "user_id", name=op.f("pk_reminder_opt_outs")),
    )
    op.create_table(
        "thread_cursors",
        sa.Column(
            "thread_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("last_message_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_thread_cursors")),
    )
    op.create_table(
        "question_threads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("question_index", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("starter_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["lesson_posts.id"],
            name=op.f("fk_question_threads_post_id_lesson_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question_threads")),
        sa.UniqueConstraint("post_id", "question_index", name="uq_question_threads_question"),
        sa.UniqueConstraint("thread_id", name=op.f("uq_question_threads_thread_id")),
    )
    op.create_table(
        "reminders_sent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["lesson_posts.id"],
            name=op.f("fk_reminders_sent_post_id_lesson_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders_sent")),
        sa.UniqueConstraint("post_id", "user_id", name="uq_reminders_sent_once"),
    )
    op.create_table(
        "replies",
        sa.Column(
            "message_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("thread_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("question_index", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(length=50), nullable=False),
        sa.Column("lesson", sa.String(length=100), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("char_count", sa.Integer(), nullable=False),
        sa.Column("reply_to_message_id", sa.BigInteger(), nullable=True),
        sa.Column("reply_to_author_id", sa.BigInteger(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["lesson_posts.id"],
            name=op.f("fk_replies_post_id_lesson_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_replies")),
    )
    op.create_index("ix_replies_course_created", "replies", ["course", "created_at"])
    op.create_index("ix_replies_course_lesson_author", "replies", ["course", "lesson", "author_id"])
    op.create_index("ix_replies_post_author", "replies", ["post_id", "author_id"])
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
    op.create_index("ix_replies_thread", "replies", ["thread_id"])


def downgrade() -> None:
    """Undo: Initial schema: posts, threads, replies, cursors, audit, reminders."""
    op.drop_index("ix_replies_thread", table_name="replies")
    op.drop_index("ix_replies_summary", table_name="replies")
    op.drop_index("ix_replies_post_author", table_name="replies")
    op.drop_index("ix_replies_course_lesson_author", table_name="replies")
    op.drop_index("ix_replies_course_created", table_name="replies")

    op.drop_table("replies")
    op.drop_table("reminders_sent")
    op.drop_table("question_threads")
    op.drop_table("thread_cursors")
    op.drop_table("reminder_opt_outs")
    op.drop_index("ix_lesson_posts_due_at", table_name="lesson_posts")
    op.drop_index("ix_lesson_posts_course_scheduled", table_name="lesson_posts")

    op.drop_table("lesson_posts")
    op.drop_index("ix_audit_log_course_at", table_name="audit_log")

    op.drop_table("audit_log")

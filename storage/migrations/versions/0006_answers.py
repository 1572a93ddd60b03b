"""Answers: each student's first answer in an answer-first lesson

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

A post remembers whether it was posted answer-first. One row per student and question of an
answer-first lesson: claimed when the student submits
their answer (so that a double submit posts once), holding the text until the bot has posted
it, then the id of the message the bot posted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Mark answer-first posts, and create the answers table."""
    with op.batch_alter_table("lesson_posts") as batch:
        batch.add_column(sa.Column("answer_first", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("question_index", sa.Integer(), nullable=False),
        sa.Column("course", sa.String(50), nullable=False),
        sa.Column("lesson", sa.String(100), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["post_id"], ["lesson_posts.id"], ondelete="CASCADE",
                                name=op.f("fk_answers_post_id_lesson_posts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("post_id", "question_index", "user_id", name="uq_answers_student"),
    )


def downgrade() -> None:
    """Drop the answers table and the answer-first mark."""
    op.drop_table("answers")
    with op.batch_alter_table("lesson_posts") as batch:
        batch.drop_column("answer_first")

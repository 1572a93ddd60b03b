"""Roster: the students of a course as the school's LMS lists them

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

One row per student of a course's roster (``seminar roster import``), kept when the student
leaves the LMS's export (``left_at``), with the Discord member linked to them, if any.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the roster table."""
    op.create_table(
        "roster",
        sa.Column("course", sa.String(50), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("lms_id", sa.String(200), nullable=False),
        sa.Column("sis_id", sa.String(200), nullable=False),
        sa.Column("login", sa.String(300), nullable=False),
        sa.Column("email", sa.String(300), nullable=False),
        sa.Column("section", sa.String(300), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("course", "key", name=op.f("pk_roster")),
        sa.UniqueConstraint("course", "user_id", name="uq_roster_member"),
    )


def downgrade() -> None:
    """Drop the roster table."""
    op.drop_table("roster")

"""Every store that holds a student's data exports it and forgets it, and none is left out."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.core.roster import parse_roster
from storage.models import Base
from tests.databases import TestDatabase
from tests.storage.test_replies import ALICE, BOB, HOUR, T0, new_reply, post_lesson

# A column named like this holds a Discord user id (a student's, possibly).
USER_ID = re.compile(r"(^|_)(user|author|actor|member|student|teacher)_id$")


def user_id_columns() -> set[str]:
    return {f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables
            for column in table.columns if USER_ID.search(column.name)}


def test_every_column_holding_a_user_id_is_exported_and_forgotten(
    database: TestDatabase,
) -> None:
    covered = [c for store in database.repo.student_stores for c in store.user_columns]
    assert len(covered) == len(set(covered)), "a column is claimed by two stores"
    # A new column holding a user id fails here until a store exports and forgets it.
    assert user_id_columns() == set(covered)


async def test_a_student_is_exported_from_every_store_and_then_forgotten_everywhere(
    database: TestDatabase,
) -> None:
    repo = database.repo
    [thread] = await post_lesson(repo, "hist", "rome", T0, 1, base=100)
    await repo.replies.record([
        new_reply(thread, 1_001, ALICE, T0 + HOUR, 5),
        new_reply(thread, 1_002, BOB, T0 + 2 * HOUR, 4, reply_to=(1_001, ALICE)),
    ])
    await repo.reminders.record(thread.post_id, [ALICE, BOB])
    await repo.reminders.set_opt_out("hist", ALICE, True)
    await repo.audit.add("hist", ALICE, "reminders_off")
    await repo.audit.add("hist", BOB, "reminders_off")
    await repo.roster.import_students("hist", parse_roster(
        "Name,Login\nAlice A.,alice\nBob B.,bob\n").students, now=T0)
    assert await repo.roster.link("hist", "login:alice", ALICE)
    assert await repo.roster.link("hist", "login:bob", BOB)
    await repo.extensions.grant("hist", "rome", ALICE, T0 + 3 * HOUR, granted_by=9)
    await repo.extensions.grant("hist", "rome", BOB, T0 + 3 * HOUR, granted_by=9)
    for user, message in ((ALICE, 1_001), (BOB, 1_002)):
        answer, _ = await repo.answers.claim(thread.post_id, 0, "hist", "rome", user, "My answer",
                                             T0 + HOUR)
        await repo.answers.posted(answer.id, message)

    data = await repo.export_student("hist", ALICE)
    tables = {column.split(".")[0] for column in user_id_columns()}
    assert set(data) == tables
    assert all(data[table] for table in tables), data  # something from every table
    assert [r["message_id"] for r in data["replies"]] == [1_001]
    assert [r["post_id"] for r in data["reminders_sent"]] == [thread.post_id]
    assert [r["action"] for r in data["audit_log"]] == ["reminders_off"]
    assert [(r["lesson"], r["due_at"]) for r in data["extensions"]] == [("rome", T0 + 3 * HOUR)]
    assert all(ALICE in row.values() for rows in data.values() for row in rows)

    await repo.forget_student("hist", ALICE)
    left = await _rows_naming(database, ALICE)
    assert left == [], left
    assert await _rows_naming(database, BOB) != []  # the other student keeps everything
    assert sum(len(rows) for rows in (await repo.export_student("hist", ALICE)).values()) == 0


async def _rows_naming(database: TestDatabase, user_id: int) -> list[str]:
    """Every user-id cell in the database that holds ``user_id``, as table.column."""
    found: list[str] = []
    async with database.repo.sessions() as session:
        for name in sorted(user_id_columns()):
            table_name, column_name = name.split(".")
            column = Base.metadata.tables[table_name].c[column_name]
            count = len((await session.execute(select(column).where(column == user_id))).all())
            found += [name] * count
    return found

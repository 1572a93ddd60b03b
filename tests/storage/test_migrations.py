"""Migrations build exactly the schema the models describe, on every supported database."""

from __future__ import annotations

import asyncio
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

from bot.cli import main
from storage.engine import create_engine
from storage.migrate import current_revision, head_revision, upgrade, upgrade_engine
from storage.models import Base
from tests.databases import TestDatabase

ROOT = Path(__file__).resolve().parents[2]

TABLES = {
    "alembic_version",
    "audit_log",
    "bot_state",
    "extensions",
    "lesson_work",
    "roster",
    "answers",
    "lesson_posts",
    "question_threads",
    "reminder_opt_outs",
    "reminders_sent",
    "replies",
    "thread_cursors",
}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(database: TestDatabase) -> None:
    async with database.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == []


async def test_upgrade_reaches_head_and_is_repeatable(database: TestDatabase) -> None:
    assert await current_revision(database.engine) == head_revision()
    await upgrade_engine(database.engine)  # a second start finds nothing to do
    assert await current_revision(database.engine) == head_revision()
    async with database.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert tables == TABLES


async def test_processes_upgrading_at_once_all_succeed(database_url: str) -> None:
    code = "import sys; from storage.migrate import upgrade; upgrade(sys.argv[1])"
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, database_url, cwd=ROOT, stderr=PIPE
        )
        for _ in range(4)
    ]
    results = [await process.communicate() for process in processes]
    assert [p.returncode for p in processes] == [0, 0, 0, 0], [err for _, err in results]
    engine = create_engine(database_url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


def test_seminar_db_upgrade_creates_the_database(tmp_path: Path) -> None:
    db_file = tmp_path / "class.db"
    config = tmp_path / "config.yaml"
    config.write_text(f"database:\n  url: sqlite+aiosqlite:///{db_file}\n", encoding="utf-8")

    assert main(["db", "upgrade", "--config", str(config)]) == 0
    assert db_file.exists()

    async def revision() -> str | None:
        engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(revision()) == head_revision()
    upgrade(f"sqlite+aiosqlite:///{db_file}")  # what `seminar run` does at start: a no-op now
    assert asyncio.run(revision()) == head_revision()

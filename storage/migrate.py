"""Bring a database's schema up to date with Alembic, configured in code (no ini, no cwd)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class MigrationError(Exception):
    """The database could not be reached or upgraded; the message says what to check."""


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside this package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _upgrade_connection(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine) -> None:
    """Upgrade the database behind ``engine`` to the newest revision (from async code)."""
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade_connection)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None if it was never upgraded."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current_revision)


def _make_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite file: a new install may name one that does not exist."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and ":" not in parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


async def _upgrade_url(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


def upgrade(url: str) -> None:
    """Upgrade the database at ``url`` to the newest revision (from sync code, no event loop).

    Safe to run on every start, and from several processes at once: concurrent upgraders
    wait for each other and the second finds nothing to do. A database that cannot be
    reached raises :class:`MigrationError` with a sentence (password hidden).
    """
    try:
        _make_sqlite_folder(url)
        asyncio.run(_upgrade_url(url))
    except (SQLAlchemyError, OSError) as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise MigrationError(
            f"cannot upgrade the database {shown}: {reason}. Check database.url in the "
            "config, that the database server is running, and that the file or folder is "
            "writable."
        ) from exc

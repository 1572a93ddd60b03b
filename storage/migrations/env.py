"""Alembic environment: runs Seminar's migrations on a shared or a new async connection.

``storage.migrate`` hands in a connection through ``config.attributes["connection"]``; the
``alembic`` command line (for developers writing a revision) gets the URL from
``sqlalchemy.url`` or the ``SEMINAR_DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text

from storage.models import Base
from storage.types import UTCDateTime

# Any fixed number: every Seminar process that upgrades PostgreSQL takes this lock.
PG_LOCK_KEY = 0x5E311A4


def _render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write UTCDateTime as the portable DateTime(timezone=True) in new revisions."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=Base.metadata,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations(connection: Connection) -> None:
    """Upgrade on ``connection`` in one transaction that no other upgrader can interleave."""
    sqlite = connection.dialect.name == "sqlite"
    if connection.in_transaction():
        connection.commit()
    if sqlite:
        # A table rebuild (batch migration) must not cascade deletes, and SQLite only
        # changes this setting outside a transaction.
        connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
        connection.commit()
    try:
        with connection.begin():
            if sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
            _configure(connection=connection, render_as_batch=sqlite)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            connection.commit()


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(
        "SEMINAR_DATABASE_URL"
    )
    if not url:
        raise SystemExit(
            "no database URL: set SEMINAR_DATABASE_URL or pass -x / sqlalchemy.url to alembic"
        )
    return url


async def _run_with_new_engine() -> None:
    from storage.engine import create_engine

    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_migrations)
    finally:
        await engine.dispose()


def main() -> None:
    """Run offline (SQL script), on a handed-in connection, or on a new engine."""
    if context.is_offline_mode():
        _configure(url=_url(), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
    else:
        asyncio.run(_run_with_new_engine())


main()

"""Portable column types: timezone-aware UTC datetimes on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone reached the database layer."""


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A datetime stored in UTC and always read back timezone-aware in UTC.

    PostgreSQL keeps the zone (``timestamptz``); SQLite drops it, so the value is converted to
    UTC before it is stored (which also keeps SQLite's text comparisons chronological) and the
    UTC zone is put back when it is read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(
                f"naive datetime {value.isoformat()} given to the database: "
                "pass a timezone-aware time (e.g. datetime.now(UTC))"
            )
        utc: dt.datetime = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # aggregates over SQLite text can bypass the parser
            value = dt.datetime.fromisoformat(value)
        if not isinstance(value, dt.datetime):
            raise TypeError(f"the database returned {value!r} for a datetime column")
        moment: dt.datetime = value
        if moment.tzinfo is None:
            # combine() is several times faster than replace(tzinfo=...), which adds up over
            # the thousands of times a report or an export reads.
            return dt.datetime.combine(moment.date(), moment.time(), dt.UTC)
        return moment.astimezone(dt.UTC)

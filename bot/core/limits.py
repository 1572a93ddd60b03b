"""The ranges every number, date, size and count in a config or lesson file must keep to.

One place, so that what ``seminar check`` accepts is what every later step can handle: a
mistyped number (an extra digit or two, a year 9999) is refused with a sentence instead of
overflowing a date, a database integer or a Discord limit inside the running bot. Discord's
own limits are :mod:`bot.core.render`'s; these are Seminar's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

#: Dates and times in a config: a course's calendar, checkpoints, extensions. Wide enough for
#: any school year, narrow enough that a week or a year added to one is still a date.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)

#: A lesson's ``published`` date: the date of the page it was copied from.
EARLIEST_PUBLISHED = dt.date(1900, 1, 1)

HOURS_A_YEAR = 24 * 366
DAYS_A_YEAR = 366

#: Words in a Discord message: 4,000 characters at most (with Nitro) is under 2,000 words.
MAX_WORDS = 2000
#: Replies, peer replies and checkpoints a rule may ask of a student for one course.
MAX_REQUIRED = 1000
MAX_CHECKPOINTS = 50
#: Points a lesson may be worth; minutes a clumping window may span (a week).
MAX_POINTS = 1000
MAX_CLUMPING_MINUTES = 7 * 24 * 60
MAX_EXTENSIONS = 10_000
MAX_RETENTION_DAYS = 36500
#: Discord's snowflakes fit a signed 64-bit integer (the database's BIGINT).
MAX_SNOWFLAKE = 2**63 - 1
MAX_SHARDS = 10_000
MAX_COURSES = 10_000
MAX_CALENDAR_ENTRIES = 1000
MAX_NAME_LENGTH = 100

#: A lesson file or an imported page larger than this is refused before it is read.
MAX_FILE_BYTES = 4 * 1024 * 1024
#: YAML nodes a file may hold once its aliases are expanded (a district's config with a
#: thousand courses has some hundreds of thousands; an "alias bomb" has billions).
MAX_YAML_NODES = 1_000_000

MAX_QUESTIONS = 25
MAX_QUESTION_LENGTH = 1500
MAX_RESOURCES = 100
MAX_TITLE_LENGTH = 300
MAX_AUTHOR_LENGTH = 200
MAX_URL_LENGTH = 2048
MAX_SUMMARY_LENGTH = 50_000  # a 4,000-word summary is about 28,000


def date_check(earliest: dt.date, latest: dt.date,
               what: str) -> Callable[[dt.date], dt.date]:
    """A validator refusing a date outside ``earliest``..``latest``, saying it ``what``."""
    def check(value: dt.date) -> dt.date:
        if not earliest <= value <= latest:
            raise ValueError(f"{value} {what}: use one from {earliest} to {latest}")
        return value

    return check
